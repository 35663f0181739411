"""Finished Express executions: the most recent are kept, and no more."""

from __future__ import annotations

import json

from _backends import Backend
from test_store import run

from legato.engine import Engine
from legato.errors import ApiError
from legato.runtime.clock import VirtualClock
from legato.store._express import ExpressArchive
from legato.store.records import ExecutionRecord

PASS = json.dumps(
    {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": "y" * 100}, "End": True}}}
)


def _record(arn: str, events: int) -> ExecutionRecord:
    return ExecutionRecord(
        arn=arn,
        name=arn,
        state_machine_arn="sm",
        state_machine_name="sm",
        type="EXPRESS",
        input_text="{}",
        start_date=0.0,
        definition=PASS,
        role_arn="",
        state_machine_update_date=0.0,
        revision_id="",
        logging_configuration={},
        tracing_configuration={},
        encryption_configuration={},
        status="SUCCEEDED",
        history=[{"id": i + 1, "type": "PassStateEntered", "timestamp": 0.0} for i in range(events)],
    )


def test_the_oldest_go_first() -> None:
    archive = ExpressArchive(kept=3)
    for i in range(5):
        archive.keep(_record(f"e{i}", 2))
    assert len(archive) == 3
    assert archive.get("e0") is None and archive.get("e1") is None
    kept = archive.get("e4")
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
