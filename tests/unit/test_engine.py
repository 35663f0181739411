"""Engine request validation: AWS's error types and messages, pagination, idempotency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from legato import arns
from legato._apirequest import invalid_json_reason
from legato.engine import Engine
from legato.errors import ApiError
from legato.runtime.clock import SequentialIds, VirtualClock

T = TypeVar("T")

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def run(coro: Awaitable[T]) -> T:
    async def go() -> T:
        return await coro

    return asyncio.run(go())


def engine() -> Engine:
    return Engine(ids=SequentialIds(), clock=VirtualClock())


def api_error(coro: Awaitable[Any]) -> ApiError:
    with pytest.raises(ApiError) as info:
        run(coro)
    return info.value


# -- names and ARNs


@pytest.mark.parametrize(
    "name", ["activity name", "a:b", "a;b", "a<b", "a{b", "a~b", "a/b", "a\x1f", "a\x7f", "\x00a"]
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(ApiError) as info:
        arns.validate_name(name)
    assert (info.value.type, info.value.message) == ("InvalidName", f"Invalid Name: '{name}'")


def test_name_length() -> None:
    arns.validate_name("a" * 80)
    with pytest.raises(ApiError) as info:
        arns.validate_name("a" * 81)
    assert info.value.type == "ValidationException"
    assert "Member must have length less than or equal to 80" in info.value.message


def test_arn_rules() -> None:
    with pytest.raises(ApiError) as info:
        arns.parse_arn("invalid_state_machine_arn")
    assert info.value.message == "Invalid Arn: 'Invalid ARN prefix: invalid_state_machine_arn'"
    express = "arn:aws:states:us-east-1:1:express:sm:ex:id"
    with pytest.raises(ApiError) as info:
        arns.expect_arn(express, "execution")
    assert info.value.message == "Invalid Arn: 'Resource type not valid in this context: express'"
    assert arns.execution_arn(SM + "m", "e") == "arn:aws:states:us-east-1:123456789012:execution:m:e"
    assert arns.execution_arn(SM + "m", "e", "u") == "arn:aws:states:us-east-1:123456789012:express:m:e:u"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "{'not': 'json'",
            "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
        ),
        (
            "not some json",
            "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', "
            "'true' or 'false')",
        ),
        ('{"a": 1}', None),
    ],
)
def test_input_reasons(text: str, reason: str | None) -> None:
    assert invalid_json_reason(text) == reason


# -- state machines


def test_create_describe_update_delete() -> None:
    async def go() -> None:
        e = engine()
        created = await e.create_state_machine(name="m", definition=PASS)
        arn = created["stateMachineArn"]
        assert arn == SM + "m"
        # Idempotent when nothing differs.
        assert (await e.create_state_machine(name="m", definition=PASS)) == created
        desc = await e.describe_state_machine(stateMachineArn=arn)
        assert desc["definition"] == PASS and desc["type"] == "STANDARD" and desc["status"] == "ACTIVE"
        assert desc["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
        updated = await e.update_state_machine(stateMachineArn=arn, definition=WAIT)
        assert set(updated) == {"updateDate", "revisionId"}
        assert (await e.describe_state_machine(stateMachineArn=arn))["definition"] == WAIT
        assert await e.delete_state_machine(stateMachineArn=arn) == {}
        with pytest.raises(ApiError) as info:
            await e.describe_state_machine(stateMachineArn=arn)
        assert info.value.type == "StateMachineDoesNotExist"
        assert info.value.message == f"State Machine Does Not Exist: '{arn}'"

    run(go())


def test_create_errors() -> None:
    e = engine()
    run(e.create_state_machine(name="m", definition=PASS))
    err = api_error(e.create_state_machine(name="m", definition=json.dumps(json.loads(PASS), indent=2)))
    assert (err.type, err.message) == ("StateMachineAlreadyExists", f"State Machine Already Exists: '{SM}m'")
    err = api_error(e.create_state_machine(name="bad name", definition=PASS))
    assert err.type == "InvalidName"
    err = api_error(e.create_state_machine(name="x", definition=json.dumps({"StartAt": "A"})))
    assert err.type == "InvalidDefinition"
    assert err.message.startswith("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED:")
    err = api_error(e.create_state_machine(name="x", definition=PASS, type="FAST"))
    assert err.type == "ValidationException" and "[STANDARD, EXPRESS]" in err.message
    err = api_error(e.create_state_machine(name="x", definition=PASS, versionDescription="v"))
    assert (err.type, err.message) == (
        "ValidationException",
        "Version description can only be set when publish is true",
    )
    err = api_error(e.create_state_machine(name="x", definition=PASS, loggingConfiguration={"level": "ALL"}))
    assert (err.type, err.message) == (
        "InvalidLoggingConfiguration",
        "Invalid Logging Configuration: Must specify exactly one Log Destination.",
    )
    err = api_error(e.create_state_machine(name="x", definition=PASS, roleArn="role"))
    assert (err.type, err.message) == ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: role'")
    err = api_error(e.create_state_machine(name="x"))
    assert err.type == "ValidationException" and "'definition'" in err.message


def test_update_needs_something() -> None:
    e = engine()
    run(e.create_state_machine(name="m", definition=PASS))
    err = api_error(e.update_state_machine(stateMachineArn=SM + "m"))
    assert err.type == "MissingRequiredParameter"
    assert err.message == (
        "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified"
    )
    err = api_error(e.update_state_machine(stateMachineArn=SM + "m:2", definition=PASS))
    assert (err.type, err.message) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{SM}m:2'")


def test_list_state_machines_pages() -> None:
    async def go() -> None:
        e = engine()
        for i in range(5):
            await e.create_state_machine(name=f"m{i}", definition=PASS)
        seen: list[str] = []
        token = None
        while True:
            page = await e.list_state_machines(maxResults=2, nextToken=token)
            assert len(page["stateMachines"]) <= 2
            seen += [m["name"] for m in page["stateMachines"]]
            token = page.get("nextToken")
            if token is None:
                break
        assert seen == [f"m{i}" for i in range(5)]
        with pytest.raises(ApiError) as info:
            await e.list_state_machines(nextToken="garbage")
        assert info.value.type == "InvalidToken"
        with pytest.raises(ApiError) as info:
            await e.list_state_machines(maxResults=1001)
        assert info.value.type == "ValidationException"

    run(go())


# -- executions


def test_start_execution_errors() -> None:
    e = engine()
    run(e.create_state_machine(name="m", definition=PASS))
    err = api_error(e.start_execution(stateMachineArn=SM + "nope"))
    assert (err.type, err.message) == (
        "StateMachineDoesNotExist",
        f"State Machine Does Not Exist: '{SM}nope'",
    )
    err = api_error(e.start_execution(stateMachineArn=SM + "m", input=""))
    assert (err.type, err.message) == (
        "InvalidExecutionInput",
        "Invalid State Machine Execution Input: 'Invalid execution input.'",
    )
    err = api_error(e.start_execution(stateMachineArn=SM + "m", input="not some json"))
    assert err.type == "InvalidExecutionInput"
    err = api_error(e.start_execution(stateMachineArn=SM + "m", input=json.dumps("x" * 262144)))
    assert err.type == "ValidationException" and "262144" in err.message
    err = api_error(e.start_execution(stateMachineArn=SM + "m", name="a b"))
    assert err.type == "InvalidName"
    err = api_error(e.start_sync_execution(stateMachineArn=SM + "m", input="{}"))
    assert (err.type, err.message) == (
        "StateMachineTypeNotSupported",
        "This operation is not supported by this type of state machine",
    )
    err = api_error(e.describe_execution(executionArn="invalid_state_machine_arn"))
    assert (err.type, err.message) == (
        "InvalidArn",
        "Invalid Arn: 'Invalid ARN prefix: invalid_state_machine_arn'",
    )
    missing = "arn:aws:states:us-east-1:123456789012:execution:m:nope"
    err = api_error(e.get_execution_history(executionArn=missing))
    assert (err.type, err.message) == ("ExecutionDoesNotExist", f"Execution Does Not Exist: '{missing}'")


def test_start_execution_is_idempotent_while_running() -> None:
    async def go() -> None:
        e = Engine(ids=SequentialIds())  # system clock: the Wait really waits
        try:
            arn = (await e.create_state_machine(name="w", definition=WAIT))["stateMachineArn"]
            first = await e.start_execution(stateMachineArn=arn, name="x", input='{"a":1}')
            again = await e.start_execution(stateMachineArn=arn, name="x", input='{"a":1}')
            assert again == first
            with pytest.raises(ApiError) as info:
                await e.start_execution(stateMachineArn=arn, name="x", input='{"a":2}')
            assert info.value.type == "ExecutionAlreadyExists"
            assert info.value.message == f"Execution Already Exists: '{first['executionArn']}'"
            listed = await e.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
            assert [x["name"] for x in listed["executions"]] == ["x"]
            stopped = await e.stop_execution(executionArn=first["executionArn"], error="E", cause="C")
            assert isinstance(stopped["stopDate"], float)
            desc = await e.describe_execution(executionArn=first["executionArn"])
            assert (desc["status"], desc["error"], desc["cause"]) == ("ABORTED", "E", "C")
            # A closed execution's name stays taken, whatever the input.
            with pytest.raises(ApiError) as info:
                await e.start_execution(stateMachineArn=arn, name="x", input='{"a":1}')
            assert info.value.type == "ExecutionAlreadyExists"
        finally:
            await e.aclose()

    run(go())


def test_execution_runs_and_is_described() -> None:
    async def go() -> None:
        e = engine()
        arn = (await e.create_state_machine(name="m", definition=PASS))["stateMachineArn"]
        started = await e.start_execution(stateMachineArn=arn, name="one")
        desc = await e.wait_for_execution(started["executionArn"])
        assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"]) == {"ok": 1}
        assert desc["input"] == "{}" and desc["redriveCount"] == 0
        history = await e.get_execution_history(executionArn=started["executionArn"])
        types = [ev["type"] for ev in history["events"]]
        assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
        rev = await e.get_execution_history(
            executionArn=started["executionArn"], reverseOrder=True, maxResults=1
        )
        assert rev["events"][0]["type"] == "ExecutionSucceeded" and "nextToken" in rev
        for_ex = await e.describe_state_machine_for_execution(executionArn=started["executionArn"])
        assert for_ex["definition"] == PASS and for_ex["name"] == "m"

    run(go())


def test_express_sync_and_not_describable() -> None:
    async def go() -> None:
        e = engine()
        arn = (await e.create_state_machine(name="x", definition=PASS, type="EXPRESS"))["stateMachineArn"]
        out = await e.start_sync_execution(stateMachineArn=arn, input='{"in": 1}')
        assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"ok": 1}
        assert out["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:express:x:")
        with pytest.raises(ApiError) as info:
            await e.describe_execution(executionArn=out["executionArn"])
        assert info.value.message == "Invalid Arn: 'Resource type not valid in this context: express'"
        with pytest.raises(ApiError) as info:
            await e.list_executions(stateMachineArn=arn)
        assert info.value.type == "StateMachineTypeNotSupported"

    run(go())


def test_validate_definition() -> None:
    e = engine()
    ok = run(e.validate_state_machine_definition(definition=PASS))
    assert ok == {"result": "OK", "diagnostics": [], "truncated": False}
    bad = run(e.validate_state_machine_definition(definition=json.dumps({"States": {}})))
    assert bad["result"] == "FAIL" and bad["diagnostics"][0]["code"] == "SCHEMA_VALIDATION_FAILED"


# -- activities and tags


def test_activities_and_tags() -> None:
    async def go() -> None:
        e = engine()
        act = await e.create_activity(name="work", tags=[{"key": "team", "value": "a"}])
        arn = act["activityArn"]
        assert arn == "arn:aws:states:us-east-1:123456789012:activity:work"
        assert (await e.describe_activity(activityArn=arn))["name"] == "work"
        assert [a["name"] for a in (await e.list_activities())["activities"]] == ["work"]
        await e.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
        tags = (await e.list_tags_for_resource(resourceArn=arn))["tags"]
        assert tags == [{"key": "team", "value": "a"}, {"key": "env", "value": "dev"}]
        await e.untag_resource(resourceArn=arn, tagKeys=["team"])
        assert (await e.list_tags_for_resource(resourceArn=arn))["tags"] == [{"key": "env", "value": "dev"}]
        await e.delete_activity(activityArn=arn)
        with pytest.raises(ApiError) as info:
            await e.describe_activity(activityArn=arn)
        assert (info.value.type, info.value.message) == (
            "ActivityDoesNotExist",
            f"Activity Does Not Exist: '{arn}'",
        )
        with pytest.raises(ApiError) as info:
            await e.list_tags_for_resource(resourceArn=arn)
        assert info.value.type == "ResourceNotFound"

    run(go())


def test_unknown_operation() -> None:
    err = api_error(engine().call("FlyToTheMoon", {}))
    assert err.type == "UnknownOperationException"
