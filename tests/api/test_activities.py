"""Activities and task tokens with boto3 against a live ``legato serve``."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import legato.worker

ROLE = "arn:aws:iam::123456789012:role/test"


@pytest.fixture(scope="module")
def sfn(endpoint: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, read_timeout=70),
    )


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _machine(sfn: Any, task: dict[str, Any]) -> str:
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", **task, "End": True}}}
    created = sfn.create_state_machine(name=_unique("sm"), definition=json.dumps(definition), roleArn=ROLE)
    arn: str = created["stateMachineArn"]
    return arn


def _wait_done(sfn: Any, arn: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING" or time.monotonic() > deadline:
            return d
        time.sleep(0.02)


def _events(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return events


def _wait_for_event(sfn: Any, arn: str, type_: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for ev in _events(sfn, arn):
            if ev["type"] == type_:
                return ev
        time.sleep(0.02)
    raise AssertionError(f"no {type_} event")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_activity_task_worked_by_legato_worker(sfn: Any) -> None:
    activity = sfn.create_activity(name=_unique("act"))["activityArn"]
    sm = _machine(sfn, {"Resource": activity, "TimeoutSeconds": 30, "HeartbeatSeconds": 5})
    ex = sfn.start_execution(stateMachineArn=sm, input='{"name": "Ada"}')["executionArn"]

    async def greet(event: Any) -> Any:
        return {"greeting": f"Hello, {event['name']}!"}

    worked = legato.worker.run(
        activity, greet, client=sfn, worker_name="w-1", heartbeat_seconds=0.05, max_tasks=1
    )
    assert worked == 1
    d = _wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"greeting": "Hello, Ada!"}
    events = _events(sfn, ex)
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "ActivityScheduled",
        "ActivityStarted",
        "ActivitySucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert events[2]["activityScheduledEventDetails"] == {
        "resource": activity,
        "input": '{"name":"Ada"}',
        "inputDetails": {"truncated": False},
        "timeoutInSeconds": 30,
        "heartbeatInSeconds": 5,
    }
    assert events[3]["activityStartedEventDetails"] == {"workerName": "w-1"}


def test_activity_worker_reports_exceptions(sfn: Any) -> None:
    activity = sfn.create_activity(name=_unique("act"))["activityArn"]
    sm = _machine(sfn, {"Resource": activity})
    ex = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]

    def broken(event: Any) -> Any:
        raise ValueError("no name given")

    stop = threading.Event()
    assert legato.worker.run(activity, broken, client=sfn, stop_event=stop, max_tasks=1) == 1
    d = _wait_done(sfn, ex)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "ValueError", "no name given")
    failed = _events(sfn, ex)[4]
    assert failed["activityFailedEventDetails"] == {"error": "ValueError", "cause": "no name given"}


def test_activity_on_a_missing_activity(sfn: Any) -> None:
    activity = sfn.create_activity(name=_unique("act"))["activityArn"]
    sfn.delete_activity(activityArn=activity)
    sm = _machine(sfn, {"Resource": activity})
    ex = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    d = _wait_done(sfn, ex)
    assert d["error"] == "States.Runtime"
    assert d["cause"].endswith(f"The activity {activity} does not exist.")
    with pytest.raises(ClientError) as exc:
        sfn.get_activity_task(activityArn=activity)
    assert _code(exc) == ("ActivityDoesNotExist", f"Activity Does Not Exist: '{activity}'")


def _callback_execution(sfn: Any, **task: Any) -> tuple[str, str]:
    """Starts a lambda:invoke.waitForTaskToken Task; returns the execution ARN and its token."""
    sm = _machine(
        sfn,
        {
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "double", "Payload": {"n": 2, "token.$": "$$.Task.Token"}},
            **task,
        },
    )
    ex = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    submitted = _wait_for_event(sfn, ex, "TaskSubmitted")
    assert submitted["taskSubmittedEventDetails"]["resource"] == "invoke.waitForTaskToken"
    scheduled = _wait_for_event(sfn, ex, "TaskScheduled")
    token: str = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Payload"]["token"]
    return ex, token


def test_wait_for_task_token_success(sfn: Any) -> None:
    ex, token = _callback_execution(sfn, HeartbeatSeconds=30)
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    d = _wait_done(sfn, ex)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"approved": True})
    types = [e["type"] for e in _events(sfn, ex)]
    assert types[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    # The task is closed now: answering again is TaskTimedOut.
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken=token, output="{}")
    assert _code(exc) == ("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")


def test_wait_for_task_token_failure(sfn: Any) -> None:
    ex, token = _callback_execution(sfn)
    sfn.send_task_failure(taskToken=token, error="Rejected", cause="by a human")
    d = _wait_done(sfn, ex)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "Rejected", "by a human")
    failed = next(e for e in _events(sfn, ex) if e["type"] == "TaskFailed")
    assert failed["taskFailedEventDetails"] == {
        "error": "Rejected",
        "cause": "by a human",
        "resource": "invoke.waitForTaskToken",
        "resourceType": "lambda",
    }


def test_bad_tokens_and_outputs(sfn: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken="NoSuchTaskToken", output="{}")
    assert _code(exc) == ("InvalidToken", "Invalid Token: 'Invalid token'")
    with pytest.raises(ClientError) as exc:
        sfn.send_task_heartbeat(taskToken="NoSuchTaskToken")
    assert _code(exc)[0] == "InvalidToken"
    ex, token = _callback_execution(sfn)
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken=token, output="{not json")
    assert _code(exc)[0] == "InvalidOutput"
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken=token, output='"' + "x" * 262144 + '"')
    assert _code(exc)[0] == "ValidationException"
    sfn.stop_execution(executionArn=ex)
    _wait_done(sfn, ex)
    with pytest.raises(ClientError) as exc:
        sfn.send_task_failure(taskToken=token)
    assert _code(exc)[0] == "TaskTimedOut"


def test_token_survives_a_restart(tmp_path: Path) -> None:
    from _live import live_server

    def client(url: str) -> Any:
        return boto3.client(
            "stepfunctions",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
        )

    with live_server(tmp_path, "--clock", "system") as url:
        ex, token = _callback_execution(client(url))
    with live_server(tmp_path, "--clock", "system") as url:
        sfn = client(url)
        deadline = time.monotonic() + 10
        while True:  # the resumed execution opens the same token again
            try:
                sfn.send_task_success(taskToken=token, output='{"after": "restart"}')
                break
            except ClientError as exc:
                if time.monotonic() > deadline or _code(exc)[0] == "InvalidToken":
                    raise
                time.sleep(0.05)
        d = _wait_done(sfn, ex)
        assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"after": "restart"})
        types = [e["type"] for e in _events(sfn, ex)]
        assert types.count("TaskSubmitted") == 1
