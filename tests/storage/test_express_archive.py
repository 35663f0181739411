"""Finished Express executions: the most recent are kept, and no more."""

from __future__ import annotations

import dataclasses
import json

from _backends import Backend
from test_store import event, execution, run

from legato.engine import Engine
from legato.errors import ApiError
from legato.runtime.clock import VirtualClock
from legato.store._express import ExpressArchive
from legato.store.records import ExecutionRecord

PASS = json.dumps(
    {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": "y" * 100}, "End": True}}}
)


def _record(name: str, events: int) -> ExecutionRecord:
    history = [event(i + 1) for i in range(events)]
    return dataclasses.replace(execution("sm", name, status="SUCCEEDED", history=history), type="EXPRESS")


def test_the_oldest_go_first() -> None:
    archive = ExpressArchive(kept=3)
    records = [_record(f"e{i}", 2) for i in range(5)]
    for record in records:
        archive.keep(record)
    assert len(archive) == 3
    assert archive.get(records[0].arn) is None and archive.get(records[1].arn) is None
    kept = archive.get(records[4].arn)
    assert kept is not None and kept.runtime is None and kept.history == []
    assert kept.status == "SUCCEEDED"


def test_a_server_keeps_only_the_most_recent_express_executions(backend: Backend) -> None:
    async def go() -> None:
        store = backend.open()
        store._express_done.kept = 3  # type: ignore[attr-defined]
        engine = Engine(store=store, clock=VirtualClock())
        sm = await engine.create_state_machine(name="fast", definition=PASS, type="EXPRESS")
        arns = []
        for _ in range(5):
            out = await engine.start_sync_execution(stateMachineArn=sm["stateMachineArn"])
            arns.append(out["executionArn"])
        for arn in arns[2:]:
            described = await engine.wait_for_execution(arn)
            assert described["status"] == "SUCCEEDED"
        for arn in arns[:2]:
            try:
                await engine.wait_for_execution(arn)
            except ApiError as exc:
                assert exc.type == "ExecutionDoesNotExist"
            else:
                raise AssertionError("a forgotten Express execution was described")
        await engine.aclose()
        await store.aclose()

    run(go())
