"""boto3 and the AWS CLI against a live ``legato serve``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
TASK = json.dumps(
    {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
                "End": True,
            }
        },
    }
)
ROLE = "arn:aws:iam::123456789012:role/test"


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


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def wait_done(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING" or time.monotonic() > deadline:
            return desc
        time.sleep(0.02)


def test_state_machine_lifecycle(sfn: Any) -> None:
    name = unique("sm")
    created = sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE)
    arn = created["stateMachineArn"]
    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    assert isinstance(created["creationDate"], datetime)
    desc = sfn.describe_state_machine(stateMachineArn=arn)
    assert desc["definition"] == PASS and desc["roleArn"] == ROLE and desc["type"] == "STANDARD"
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert name in names
    sfn.update_state_machine(stateMachineArn=arn, definition=WAIT)
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == WAIT
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert error_of(exc) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'", 400)
    assert exc.value.response["message"] == f"State Machine Does Not Exist: '{arn}'"


def test_execution_with_function(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("task"), definition=TASK, roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input='{"n": 21}')
    desc = wait_done(sfn, ex["executionArn"])
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {"n": 42}
    assert isinstance(desc["startDate"], datetime) and isinstance(desc["stopDate"], datetime)
    events = sfn.get_execution_history(executionArn=ex["executionArn"])["events"]
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["executionArn"] for e in listed] == [ex["executionArn"]]
    for_ex = sfn.describe_state_machine_for_execution(executionArn=ex["executionArn"])
    assert for_ex["definition"] == TASK


def test_stop_and_idempotent_start(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("wait"), definition=WAIT, roleArn=ROLE)["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=arn, name="run1", input="{}")
    again = sfn.start_execution(stateMachineArn=arn, name="run1", input="{}")
    assert again["executionArn"] == first["executionArn"]
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn, name="run1", input='{"other": 1}')
    assert error_of(exc) == (
        "ExecutionAlreadyExists",
        f"Execution Already Exists: '{first['executionArn']}'",
        400,
    )
    sfn.stop_execution(executionArn=first["executionArn"], error="Stopped", cause="by the test")
    desc = sfn.describe_execution(executionArn=first["executionArn"])
    assert (desc["status"], desc["error"], desc["cause"]) == ("ABORTED", "Stopped", "by the test")


def test_express_sync(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("x"), definition=PASS, roleArn=ROLE, type="EXPRESS")[
        "stateMachineArn"
    ]
    out = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"ok": 1}
    with pytest.raises(ClientError) as exc:
        sfn.describe_execution(executionArn=out["executionArn"])
    assert error_of(exc) == (
        "InvalidArn",
        "Invalid Arn: 'Resource type not valid in this context: express'",
        400,
    )


@pytest.mark.parametrize(
    ("call", "kwargs", "code", "message"),
    [
        (
            "describe_execution",
            {"executionArn": "invalid_state_machine_arn"},
            "InvalidArn",
            "Invalid Arn: 'Invalid ARN prefix: invalid_state_machine_arn'",
        ),
        (
            "get_execution_history",
            {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:nope:nope"},
            "ExecutionDoesNotExist",
            "Execution Does Not Exist: 'arn:aws:states:us-east-1:123456789012:execution:nope:nope'",
        ),
        ("create_activity", {"name": "activity name"}, "InvalidName", "Invalid Name: 'activity name'"),
        (
            "create_state_machine",
            {"name": "bad", "definition": '{"StartAt": "A"}', "roleArn": ROLE},
            "InvalidDefinition",
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'",
        ),
    ],
)
def test_errors(sfn: Any, call: str, kwargs: dict[str, Any], code: str, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        getattr(sfn, call)(**kwargs)
    assert error_of(exc) == (code, message, 400)
    assert type(exc.value).__name__ == code  # boto3 maps it to the modelled exception class


def test_invalid_input(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("in"), definition=PASS, roleArn=ROLE)["stateMachineArn"]
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn, input="{'not': 'json'")
    assert error_of(exc) == (
        "InvalidExecutionInput",
        "Invalid State Machine Execution Input: "
        "'Unexpected character (''' (code 39)): was expecting double-quote to start field name'",
        400,
    )


def test_pagination_and_tags(sfn: Any) -> None:
    arns = [
        sfn.create_state_machine(name=unique("pg"), definition=PASS, roleArn=ROLE)["stateMachineArn"]
        for _ in range(3)
    ]
    pages = list(sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2}))
    assert all(len(p["stateMachines"]) <= 2 for p in pages) and len(pages) >= 2
    listed = {m["stateMachineArn"] for p in pages for m in p["stateMachines"]}
    assert set(arns) <= listed
    sfn.tag_resource(resourceArn=arns[0], tags=[{"key": "k", "value": "v"}])
    assert sfn.list_tags_for_resource(resourceArn=arns[0])["tags"] == [{"key": "k", "value": "v"}]
    sfn.untag_resource(resourceArn=arns[0], tagKeys=["k"])
    assert sfn.list_tags_for_resource(resourceArn=arns[0])["tags"] == []


def test_activities(sfn: Any) -> None:
    arn = sfn.create_activity(name=unique("act"))["activityArn"]
    assert sfn.describe_activity(activityArn=arn)["activityArn"] == arn
    assert arn in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    sfn.delete_activity(activityArn=arn)
    with pytest.raises(ClientError) as exc:
        sfn.describe_activity(activityArn=arn)
    assert error_of(exc)[0] == "ActivityDoesNotExist"


def test_validate_definition(sfn: Any) -> None:
    out = sfn.validate_state_machine_definition(definition='{"States": {"S": {"Type": "Pass", "End": true}}}')
    assert out["result"] == "FAIL"
    assert out["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": "These fields are required: [StartAt]",
            "location": "/",
        }
    ]


def _raw(
    endpoint: str, body: bytes, target: str | None, method: str = "POST"
) -> tuple[int, str, dict[str, Any]]:
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    if target:
        headers["X-Amz-Target"] = target
    req = urllib.request.Request(
        endpoint + "/", data=body if method == "POST" else None, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), json.loads(err.read())


def test_protocol_errors(endpoint: str) -> None:
    status, ctype, body = _raw(endpoint, b"{}", "AWSStepFunctions.FlyToTheMoon")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert ctype.startswith("application/x-amz-json-1.0")
    status, _, body = _raw(endpoint, b"{not json", "AWSStepFunctions.ListStateMachines")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, _, body = _raw(endpoint, b"[1]", "AWSStepFunctions.ListStateMachines")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, _, body = _raw(
        endpoint, b'{"name": 5, "definition": "{}"}', "AWSStepFunctions.CreateStateMachine"
    )
    assert (status, body["__type"]) == (400, "SerializationException")
    status, _, body = _raw(endpoint, b"", None)
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    with urllib.request.urlopen(endpoint + "/", timeout=5) as resp:
        assert resp.status == 200 and b"Legato" in resp.read()


def test_aws_cli(endpoint: str, sfn: Any) -> None:
    name = unique("cli")
    sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE)
    aws = Path(sys.executable).with_name("aws")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [str(aws), "stepfunctions", "list-state-machines", "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert name in [m["name"] for m in json.loads(done.stdout)["stateMachines"]]
    bad = subprocess.run(
        [
            str(aws),
            "stepfunctions",
            "describe-execution",
            "--execution-arn",
            "nope",
            "--endpoint-url",
            endpoint,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert bad.returncode != 0
    assert "(InvalidArn)" in bad.stderr and "Invalid ARN prefix: nope" in bad.stderr


def test_internal_failure_has_no_traceback() -> None:
    """A bug behind an operation is logged and answered with InternalFailure (HTTP 500)."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from legato.api.server import make_app
    from legato.engine import Engine

    class Broken(Engine):
        async def list_activities(self, request: Any = None, /, **fields: Any) -> dict[str, Any]:
            raise RuntimeError("secret internals")

    async def go() -> tuple[int, dict[str, Any]]:
        async with TestClient(TestServer(make_app(Broken()))) as client:
            resp = await client.post(
                "/", data=b"{}", headers={"X-Amz-Target": "AWSStepFunctions.ListActivities"}
            )
            return resp.status, await resp.json(content_type=None)

    status, body = asyncio.run(go())
    assert status == 500 and body["__type"] == "InternalFailure"
    assert "secret internals" not in body["message"] and "Traceback" not in body["message"]
