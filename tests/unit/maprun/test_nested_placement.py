"""Which Map Run children can go to a Dask worker, and the machines a worker needs for them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from legato.engine import Engine
from legato.maprun._nested import placement

ROLE = "arn:aws:iam::123456789012:role/r"
PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def _task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **fields}}}


def _start(target: str, pattern: str = ".sync:2") -> dict[str, Any]:
    return _task(
        f"arn:aws:states:::states:startExecution{pattern}",
        Parameters={"StateMachineArn": target, "Input": {}},
    )


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def _placed(
    processor: dict[str, Any], machines: dict[str, dict[str, Any]], publish: str | None = None
) -> Any:
    async def go() -> Any:
        engine = Engine()
        for name, definition in machines.items():
            await engine.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
        if publish is not None:
            await engine.publish_state_machine_version(stateMachineArn=PREFIX + publish)
        try:
            return await placement(processor, engine)
        finally:
            await engine.aclose()

    return asyncio.run(go())


def test_children_that_start_nothing_go_as_they_are() -> None:
    where = _placed(PASS, {})
    assert where.engine_bound is None and where.catalogue is None


def test_engine_bound_resources_keep_children_in_process() -> None:
    cases = {
        "arn:aws:states:us-east-1:123456789012:activity:work": "runs an activity",
        "arn:aws:states:::lambda:invoke.waitForTaskToken": "waits for a task token",
        "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess": "calls the Step Functions API",
    }
    for resource, reason in cases.items():
        inline = {
            "StartAt": "M",
            "States": {"M": {"Type": "Map", "ItemProcessor": _task(resource), "End": True}},
        }
        where = _placed(inline, {})
        assert where.engine_bound is not None and reason in where.engine_bound, resource
        assert "'T'" in where.engine_bound


def test_machines_are_followed_through_their_definitions_and_versions() -> None:
    machines = {"a": _start(PREFIX + "b"), "b": _start(PREFIX + "c", ""), "c": PASS, "unrelated": PASS}
    where = _placed(_start(PREFIX + "a"), machines, publish="a")
    assert where.engine_bound is None
    assert {m.name for m in where.catalogue.machines} == {"a", "b", "c"}
    assert [v.arn for v in where.catalogue.versions] == [PREFIX + "a:1"]
    # a qualified ARN names its machine
    where = _placed(_start(PREFIX + "a:1"), machines, publish="a")
    assert {m.name for m in where.catalogue.machines} == {"a", "b", "c"}


def test_a_computed_target_ships_every_machine() -> None:
    machines = {"a": PASS, "b": PASS}
    where = _placed(_start("{% $states.input.arn %}"), machines)
    assert {m.name for m in where.catalogue.machines} == {"a", "b"}


def test_a_reachable_machine_that_needs_the_engine_keeps_children_in_process() -> None:
    machines = {"a": _start(PREFIX + "b"), "b": _task("arn:aws:states:::sqs:sendMessage.waitForTaskToken")}
    where = _placed(_start(PREFIX + "a"), machines)
    assert where.engine_bound == "the state 'T' of b waits for a task token"
    assert where.catalogue is None
