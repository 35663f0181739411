"""Versions, aliases and redrive rules in the Engine (no server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from legato import _aliases, _redrive
from legato.engine import Engine
from legato.errors import ApiError
from legato.runtime.clock import SequentialIds, VirtualClock
from legato.store.records import ExecutionRecord, StateMachineAliasRecord

T = TypeVar("T")
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def _pass(result: str) -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}})


FAIL = json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "bad"}}})


def run(coro: Awaitable[T]) -> T:
    async def go() -> T:
        return await coro

    return asyncio.run(go())


def engine() -> Engine:
    return Engine(ids=SequentialIds(), clock=VirtualClock())


async def api_error(coro: Awaitable[Any]) -> ApiError:
    with pytest.raises(ApiError) as info:
        await coro
    return info.value


def test_publish_numbers_and_idempotency() -> None:
    async def go() -> None:
        e = engine()
        created = await e.create_state_machine(name="m", definition=_pass("a"), publish=True)
        assert created["stateMachineVersionArn"] == SM + "m:1"
        # Creating the identical machine again with publish returns the same version.
        again = await e.create_state_machine(name="m", definition=_pass("a"), publish=True)
        assert again["stateMachineVersionArn"] == SM + "m:1"
        assert (await e.publish_state_machine_version(stateMachineArn=SM + "m"))[
            "stateMachineVersionArn"
        ] == SM + "m:1"
        await e.update_state_machine(stateMachineArn=SM + "m", definition=_pass("b"))
        v2 = await e.publish_state_machine_version(stateMachineArn=SM + "m", description="two")
        assert v2["stateMachineVersionArn"] == SM + "m:2"
        await e.delete_state_machine_version(stateMachineVersionArn=SM + "m:2")
        await e.update_state_machine(stateMachineArn=SM + "m", definition=_pass("c"))
        v3 = await e.publish_state_machine_version(stateMachineArn=SM + "m")
        assert v3["stateMachineVersionArn"] == SM + "m:3"
        listed = await e.list_state_machine_versions(stateMachineArn=SM + "m", maxResults=1)
        assert [v["stateMachineVersionArn"] for v in listed["stateMachineVersions"]] == [SM + "m:3"]
        rest = await e.list_state_machine_versions(stateMachineArn=SM + "m", nextToken=listed["nextToken"])
        assert [v["stateMachineVersionArn"] for v in rest["stateMachineVersions"]] == [SM + "m:1"]
        err = await api_error(e.publish_state_machine_version(stateMachineArn=SM + "nope"))
        assert (err.type, err.message) == (
            "StateMachineDoesNotExist",
            f"State Machine Does Not Exist: '{SM}nope'",
        )
        err = await api_error(e.create_state_machine(name="x", definition=_pass("a"), versionDescription="v"))
        assert (err.type, err.message) == (
            "ValidationException",
            "Version description can only be set when publish is true",
        )

    run(go())


def test_initial_revision_id_and_delete_machine_forgets_versions() -> None:
    async def go() -> None:
        e = engine()
        await e.create_state_machine(name="m", definition=_pass("a"))
        out = await e.publish_state_machine_version(stateMachineArn=SM + "m", revisionId="INITIAL")
        assert out["stateMachineVersionArn"] == SM + "m:1"
        await e.create_state_machine_alias(
            name="live", routingConfiguration=[{"stateMachineVersionArn": SM + "m:1", "weight": 100}]
        )
        await e.delete_state_machine(stateMachineArn=SM + "m")
        assert await e.store.get_version(SM + "m:1") is None
        assert await e.store.get_alias(SM + "m:live") is None

    run(go())


def test_alias_picks_versions_by_weight_deterministically() -> None:
    alias = StateMachineAliasRecord(
        arn=SM + "m:a",
        state_machine_arn=SM + "m",
        name="a",
        routing=[
            {"stateMachineVersionArn": SM + "m:1", "weight": 30},
            {"stateMachineVersionArn": SM + "m:2", "weight": 70},
        ],
        creation_date=0.0,
    )
    picks = [_aliases.pick_version(alias, SequentialIds()) for _ in range(3)]
    assert picks == [_aliases.pick_version(alias, SequentialIds()) for _ in range(3)]
    ids = SequentialIds()
    many = [_aliases.pick_version(alias, ids) for _ in range(400)]
    share = many.count(SM + "m:2") / len(many)
    assert 0.6 < share < 0.8
    alias.routing[0]["weight"], alias.routing[1]["weight"] = 0, 100
    assert {_aliases.pick_version(alias, ids) for _ in range(50)} == {SM + "m:2"}


def test_alias_validation_collects_every_error() -> None:
    async def go() -> None:
        e = engine()
        name = "1" * 81
        err = await api_error(
            e.create_state_machine_alias(
                name=name, routingConfiguration=[{"stateMachineVersionArn": SM + "m:1", "weight": -1}]
            )
        )
        assert err.type == "ValidationException"
        assert err.message.startswith("3 validation errors detected: ")
        assert "Member must have length less than or equal to 80" in err.message
        assert "Member must satisfy regular expression pattern" in err.message
        assert "at 'routingConfiguration.1.member.weight' failed to satisfy constraint: " in err.message
        err = await api_error(e.create_state_machine_alias(name="a", routingConfiguration=[]))
        assert err.message == (
            "1 validation error detected: Value '[]' at 'routingConfiguration' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1"
        )
        err = await api_error(
            e.create_state_machine_alias(
                name="a",
                routingConfiguration=[
                    {"stateMachineVersionArn": SM + "m:1", "weight": 50},
                    {"stateMachineVersionArn": SM + "other:1", "weight": 50},
                ],
            )
        )
        assert err.type == "ValidationException" and "of the same state machine" in err.message
        err = await api_error(
            e.create_state_machine_alias(
                name="a", routingConfiguration=[{"stateMachineVersionArn": "nope", "weight": 100}]
            )
        )
        assert (err.type, err.message) == ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: nope'")
        err = await api_error(e.describe_state_machine_alias(stateMachineAliasArn=SM + "m:1"))
        assert err.type == "InvalidArn"
        await e.create_state_machine(name="m", definition=_pass("a"), publish=True)
        alias = await e.create_state_machine_alias(
            name="a", routingConfiguration=[{"stateMachineVersionArn": SM + "m:1", "weight": 100}]
        )
        err = await api_error(
            e.update_state_machine_alias(stateMachineAliasArn=alias["stateMachineAliasArn"])
        )
        assert err.type == "ValidationException"

    run(go())


def test_start_through_alias_records_both_arns() -> None:
    async def go() -> None:
        e = engine()
        await e.create_state_machine(name="m", definition=_pass("a"), publish=True)
        await e.update_state_machine(stateMachineArn=SM + "m", definition=_pass("b"), publish=True)
        alias = (
            await e.create_state_machine_alias(
                name="canary",
                routingConfiguration=[
                    {"stateMachineVersionArn": SM + "m:1", "weight": 50},
                    {"stateMachineVersionArn": SM + "m:2", "weight": 50},
                ],
            )
        )["stateMachineAliasArn"]
        outputs = {}
        for n in range(20):
            started = await e.start_execution(stateMachineArn=alias, name=f"e{n}")
            desc = await e.wait_for_execution(started["executionArn"])
            assert desc["stateMachineAliasArn"] == alias
            outputs[desc["stateMachineVersionArn"]] = json.loads(desc["output"])
        assert outputs == {SM + "m:1": "a", SM + "m:2": "b"}
        listed = await e.list_executions(stateMachineArn=SM + "m:2")
        assert all(x["stateMachineVersionArn"] == SM + "m:2" for x in listed["executions"])
        err = await api_error(e.list_executions(stateMachineArn=SM + "m:nope"))
        assert err.type == "ResourceNotFound"
        await e.aclose()

    run(go())


def _record(status: str, start: float, stop: float | None, type_: str = "STANDARD") -> ExecutionRecord:
    return ExecutionRecord(
        arn="arn:aws:states:us-east-1:123456789012:execution:m:e",
        name="e",
        state_machine_arn=SM + "m",
        state_machine_name="m",
        type=type_,
        input_text="{}",
        start_date=start,
        definition=_pass("a"),
        role_arn="arn:aws:iam::123456789012:role/r",
        state_machine_update_date=start,
        revision_id="r",
        logging_configuration={},
        tracing_configuration={},
        encryption_configuration={},
        status=status,
        stop_date=stop,
    )


@pytest.mark.parametrize(
    ("status", "age", "expected"),
    [
        ("FAILED", 60.0, ("REDRIVABLE", None)),
        ("ABORTED", 60.0, ("REDRIVABLE", None)),
        ("TIMED_OUT", 60.0, ("REDRIVABLE", None)),
        ("SUCCEEDED", 60.0, ("NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven")),
        ("RUNNING", 60.0, ("NOT_REDRIVABLE", "Execution is RUNNING and cannot be redriven")),
        ("FAILED", 15 * 86400.0, ("NOT_REDRIVABLE", "Execution redrivable period exceeded")),
    ],
)
def test_redrive_status(status: str, age: float, expected: tuple[str, str | None]) -> None:
    now = 10_000_000.0
    stop = None if status == "RUNNING" else now - age
    assert _redrive.redrive_status(_record(status, now - age - 1, stop), now) == expected


def test_redrive_status_other_reasons() -> None:
    now = 100_000_000.0
    old = _record("FAILED", now - 400 * 86400.0, now - 60)
    assert _redrive.redrive_status(old, now) == (
        "NOT_REDRIVABLE",
        "Execution has exceeded the max execution time",
    )
    full = _record("FAILED", now - 120, now - 60)
    full.history = [{}] * _redrive.HISTORY_LIMIT
    assert _redrive.redrive_status(full, now) == ("NOT_REDRIVABLE", "Execution history event limit exceeded")
    gone = _record("FAILED", now - 120, now - 60)
    assert _redrive.redrive_status(gone, now, machine_exists=False) == (
        "NOT_REDRIVABLE",
        "State machine is in DELETING status",
    )


def test_redrive_execution_api() -> None:
    async def go() -> None:
        e = engine()
        await e.create_state_machine(name="m", definition=FAIL)
        ex = (await e.start_execution(stateMachineArn=SM + "m", name="e"))["executionArn"]
        failed = await e.wait_for_execution(ex)
        assert failed["status"] == "FAILED" and failed["redriveStatus"] == "REDRIVABLE"
        first = await e.redrive_execution(executionArn=ex, clientToken="t1")
        assert (await e.redrive_execution(executionArn=ex, clientToken="t1")) == first
        desc = await e.describe_execution(executionArn=ex)
        assert desc["redriveCount"] == 1 and desc["redriveDate"] == first["redriveDate"]
        await e.wait_for_execution(ex)
        listed = await e.list_executions(stateMachineArn=SM + "m", redriveFilter="REDRIVEN")
        assert [x["redriveCount"] for x in listed["executions"]] == [1]
        err = await api_error(e.redrive_execution(executionArn=ex, clientToken="bad token"))
        assert err.type == "ValidationException"
        err = await api_error(
            e.redrive_execution(executionArn="arn:aws:states:us-east-1:123456789012:execution:m:x")
        )
        assert err.type == "ExecutionDoesNotExist"
        await e.delete_state_machine(stateMachineArn=SM + "m")
        err = await api_error(e.redrive_execution(executionArn=ex))
        assert (err.type, err.message) == ("ExecutionNotRedrivable", "State machine is in DELETING status")
        await e.aclose()

    run(go())
