"""Versions, aliases and RedriveExecution with boto3 against a live ``legato serve``."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/test"


def _pass(result: str) -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}})


CONTEXT = json.dumps(
    {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$$.StateMachine.Id"}, "End": True}},
    }
)
FLAKY = json.dumps(
    {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Result": "a", "ResultPath": "$.a", "Next": "T"},
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
                "End": True,
            },
        },
    }
)


@pytest.fixture(scope="module")
def sfn(endpoint: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    r = exc.value.response
    return r["Error"]["Code"], r["Error"]["Message"]


def wait_done(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING" or time.monotonic() > deadline:
            return desc
        time.sleep(0.02)


def test_version_lifecycle(sfn: Any) -> None:
    created = sfn.create_state_machine(
        name=unique("ver"), definition=_pass("one"), roleArn=ROLE, publish=True, versionDescription="first"
    )
    arn = created["stateMachineArn"]
    v1 = created["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    # Publishing the same revision again returns the same version.
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v1
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=_pass("two"))
    with pytest.raises(ClientError) as info:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="stale")
    assert error_of(info) == (
        "ConflictException",
        f"Failed to publish the State Machine version for revision stale. "
        f"The current State Machine revision is {updated['revisionId']}.",
    )
    v2 = sfn.publish_state_machine_version(
        stateMachineArn=arn, revisionId=updated["revisionId"], description="second"
    )["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [v2, v1]

    d1 = sfn.describe_state_machine(stateMachineArn=v1)
    assert d1["stateMachineArn"] == v1 and d1["description"] == "first"
    assert json.loads(d1["definition"])["States"]["P"]["Result"] == "one"
    d2 = sfn.describe_state_machine(stateMachineArn=v2)
    assert d2["revisionId"] == updated["revisionId"] and d2["description"] == "second"

    # Executions of a version run its snapshot, whatever the machine became since.
    sfn.update_state_machine(stateMachineArn=arn, definition=_pass("three"))
    ex = sfn.start_execution(stateMachineArn=v1)["executionArn"]
    desc = wait_done(sfn, ex)
    assert json.loads(desc["output"]) == "one"
    assert desc["stateMachineArn"] == arn and desc["stateMachineVersionArn"] == v1
    assert "stateMachineAliasArn" not in desc
    for_ex = sfn.describe_state_machine_for_execution(executionArn=ex)
    assert (
        for_ex["stateMachineArn"] == arn
        and json.loads(for_ex["definition"])["States"]["P"]["Result"] == "one"
    )
    latest = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert json.loads(wait_done(sfn, latest)["output"]) == "three"
    by_version = sfn.list_executions(stateMachineArn=v1)["executions"]
    assert [e["executionArn"] for e in by_version] == [ex]
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2

    # Version numbers are never reused.
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)  # deleting twice succeeds
    with pytest.raises(ClientError) as info:
        sfn.describe_state_machine(stateMachineArn=v2)
    assert error_of(info) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{v2}'")
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == arn + ":3"


def test_version_errors(sfn: Any) -> None:
    with pytest.raises(ClientError) as info:
        sfn.publish_state_machine_version(stateMachineArn="invalid_arn")
    assert error_of(info) == ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: invalid_arn'")
    arn = sfn.create_state_machine(name=unique("vererr"), definition=_pass("x"), roleArn=ROLE)[
        "stateMachineArn"
    ]
    with pytest.raises(ClientError) as info:
        sfn.update_state_machine(stateMachineArn=arn + ":2", definition=_pass("y"), publish=True)
    assert error_of(info) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}:2'")
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=arn + ":7")
    assert error_of(info)[0] == "StateMachineDoesNotExist"
    # An update that changes nothing keeps the revision, so publishing stays idempotent.
    first = sfn.update_state_machine(stateMachineArn=arn, definition=_pass("x"), publish=True)
    again = sfn.update_state_machine(stateMachineArn=arn, definition=_pass("x"), publish=True)
    assert first["stateMachineVersionArn"] == again["stateMachineVersionArn"] == arn + ":1"
    assert first["revisionId"] == again["revisionId"]


def test_alias_lifecycle(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("alias"), definition=_pass("one"), roleArn=ROLE, publish=True)[
        "stateMachineArn"
    ]
    v1 = arn + ":1"
    sfn.update_state_machine(stateMachineArn=arn, definition=_pass("two"))
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []

    routing = [{"stateMachineVersionArn": v1, "weight": 100}]
    created = sfn.create_state_machine_alias(name="prod", description="live", routingConfiguration=routing)
    alias = created["stateMachineAliasArn"]
    assert alias == arn + ":prod"
    again = sfn.create_state_machine_alias(name="prod", description="live", routingConfiguration=routing)
    assert again == created | {"ResponseMetadata": again["ResponseMetadata"]}
    with pytest.raises(ClientError) as info:
        sfn.create_state_machine_alias(name="prod", description="other", routingConfiguration=routing)
    assert error_of(info) == (
        "ConflictException",
        "Failed to create alias because an alias with the same name and a different "
        "routing configuration already exists.",
    )
    desc = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert (
        desc["name"] == "prod" and desc["description"] == "live" and desc["routingConfiguration"] == routing
    )

    ex = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    done = wait_done(sfn, ex)
    assert json.loads(done["output"]) == "one"
    assert done["stateMachineAliasArn"] == alias and done["stateMachineVersionArn"] == v1
    listed = sfn.list_executions(stateMachineArn=alias)["executions"]
    assert [(e["executionArn"], e["stateMachineAliasArn"]) for e in listed] == [(ex, alias)]

    # A version an alias routes to cannot be deleted.
    with pytest.raises(ClientError) as info:
        sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    assert error_of(info) == (
        "ConflictException",
        "Version to be deleted must not be referenced by an alias. "
        "Current list of aliases referencing this version: [prod]",
    )

    # Shift the traffic: weights 0 / 100 always pick the second version.
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias,
        routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 0},
            {"stateMachineVersionArn": v2, "weight": 100},
        ],
    )
    for _ in range(3):
        run = wait_done(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])
        assert run["stateMachineVersionArn"] == v2 and json.loads(run["output"]) == "two"
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias,
        routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 50},
            {"stateMachineVersionArn": v2, "weight": 50},
        ],
    )
    desc = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert [r["weight"] for r in desc["routingConfiguration"]] == [50, 50] and "updateDate" in desc
    seen = {
        wait_done(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])["stateMachineVersionArn"]
    }
    assert seen <= {v1, v2}
    by_version = sfn.list_state_machine_aliases(stateMachineArn=v2)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in by_version] == [alias]

    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
    )
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)  # deleting twice succeeds
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []
    with pytest.raises(ClientError) as info:
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert error_of(info) == ("ResourceNotFound", "Request references a resource that does not exist.")
    with pytest.raises(ClientError) as info:
        sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="x")
    assert error_of(info) == ("ResourceNotFound", "Request references a resource that does not exist.")


def test_alias_errors(sfn: Any) -> None:
    arn = sfn.create_state_machine(
        name=unique("aliaserr"), definition=_pass("one"), roleArn=ROLE, publish=True
    )["stateMachineArn"]
    v1 = arn + ":1"

    def create(name: str, routing: list[dict[str, Any]]) -> tuple[str, str]:
        with pytest.raises(ClientError) as info:
            sfn.create_state_machine_alias(name=name, routingConfiguration=routing)
        return error_of(info)

    assert create("123", [{"stateMachineVersionArn": v1, "weight": 100}]) == (
        "ValidationException",
        "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$",
    )
    assert create("a", [{"stateMachineVersionArn": v1, "weight": 101}]) == (
        "ValidationException",
        "1 validation error detected: Value '101' at 'routingConfiguration.1.member.weight' failed to "
        "satisfy constraint: Member must have value less than or equal to 100",
    )
    assert create("a", [{"stateMachineVersionArn": arn, "weight": 100}]) == (
        "ValidationException",
        f"Routing configuration must contain state machine version ARNs. Received: [{arn}]",
    )
    assert create(
        "a", [{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": v1, "weight": 50}]
    ) == (
        "ValidationException",
        f"Routing configuration must contain distinct state machine version ARNs. Received: [{v1}, {v1}]",
    )
    assert create(
        "a",
        [{"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": arn + ":2", "weight": 29}],
    ) == (
        "ValidationException",
        "Sum of routing configuration weights must equal 100. Received: [70, 29]",
    )
    assert create("a", [{"stateMachineVersionArn": arn + ":9", "weight": 100}]) == (
        "ResourceNotFound",
        "Request references a resource that does not exist.",
    )
    three = [{"stateMachineVersionArn": f"{arn}:{n}", "weight": w} for n, w in ((1, 50), (2, 30), (3, 20))]
    code, message = create("a", three)
    assert code == "ValidationException"
    assert message.endswith(
        "at 'routingConfiguration' failed to satisfy constraint: Member must have length less than or equal to 2"
    )
    assert f"RoutingConfigurationListItem(stateMachineVersionArn={arn}:1, weight=50)" in message


def test_context_state_machine_id(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("ctx"), definition=CONTEXT, roleArn=ROLE, publish=True)[
        "stateMachineArn"
    ]
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": arn + ":1", "weight": 100}]
    )["stateMachineAliasArn"]
    for started in (arn, arn + ":1", alias):
        out = wait_done(sfn, sfn.start_execution(stateMachineArn=started)["executionArn"])
        assert json.loads(out["output"]) == {"id": started}


def test_redrive_api(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("redrive"), definition=FLAKY, roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": unique("k")}))["executionArn"]
    failed = wait_done(sfn, ex)
    assert failed["status"] == "FAILED"
    assert failed["redriveCount"] == 0 and failed["redriveStatus"] == "REDRIVABLE"
    assert "redriveStatusReason" not in failed and "redriveDate" not in failed
    assert sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"] == []

    first = sfn.redrive_execution(executionArn=ex, clientToken="token-1")
    # The same client token is an idempotent retry, not a second redrive.
    assert (
        sfn.redrive_execution(executionArn=ex, clientToken="token-1")["redriveDate"] == first["redriveDate"]
    )
    desc = sfn.describe_execution(executionArn=ex)
    assert desc["redriveCount"] == 1 and desc["redriveDate"] == first["redriveDate"]
    done = wait_done(sfn, ex)
    assert done["status"] in ("RUNNING", "SUCCEEDED")
    redriven = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
    assert [(e["executionArn"], e["redriveCount"]) for e in redriven] == [(ex, 1)]
    assert sfn.list_executions(stateMachineArn=arn, redriveFilter="NOT_REDRIVEN")["executions"] == []

    if done["status"] == "SUCCEEDED":
        assert done["redriveStatus"] == "NOT_REDRIVABLE"
        assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
        with pytest.raises(ClientError) as info:
            sfn.redrive_execution(executionArn=ex, clientToken="token-2")
        assert error_of(info) == ("ExecutionNotRedrivable", "Execution is SUCCEEDED and cannot be redriven")

    with pytest.raises(ClientError) as info:
        sfn.redrive_execution(executionArn=arn.replace(":stateMachine:", ":execution:") + ":missing")
    assert error_of(info)[0] == "ExecutionDoesNotExist"


def test_redrive_of_running_execution_is_refused(sfn: Any) -> None:
    wait = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    arn = sfn.create_state_machine(name=unique("redrun"), definition=wait, roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    desc = sfn.describe_execution(executionArn=ex)
    assert desc["redriveStatus"] == "NOT_REDRIVABLE"
    assert desc["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven"
    with pytest.raises(ClientError) as info:
        sfn.redrive_execution(executionArn=ex)
    assert error_of(info) == ("ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven")
    sfn.stop_execution(executionArn=ex)
    assert wait_done(sfn, ex)["redriveStatus"] == "REDRIVABLE"


def test_redrive_resumes_from_the_failed_state(sfn: Any) -> None:
    """Needs the runtime's resume from ``recorded`` events (the lead's work)."""
    arn = sfn.create_state_machine(name=unique("resume"), definition=FLAKY, roleArn=ROLE)["stateMachineArn"]
    key = unique("k")
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": key}))["executionArn"]
    assert wait_done(sfn, ex)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=ex)
    done = wait_done(sfn, ex)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"key": key, "calls": 2}
    events = sfn.get_execution_history(executionArn=ex)["events"]
    types = [e["type"] for e in events]
    assert types.count("ExecutionStarted") == 1
    assert types.count("ExecutionRedriven") == 1
    assert types.count("ExecutionFailed") == 1
    # The Pass state that succeeded before the failure is not run again.
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "PassStateEntered"]
    assert entered == ["A"]
    redriven = next(e for e in events if e["type"] == "ExecutionRedriven")
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
