"""The real AWS CLI (``aws stepfunctions ...``) through a state machine's whole life."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

AWS = Path(sys.executable).with_name("aws")
ROLE = "arn:aws:iam::123456789012:role/cli"
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}


class CliError(Exception):
    """The CLI exited with an error; ``code`` is the AWS error code it printed."""

    def __init__(self, code: str, stderr: str) -> None:
        super().__init__(stderr)
        self.code = code


def aws(endpoint: str, *args: str) -> Any:
    """Runs ``aws stepfunctions ARGS`` against ``endpoint``; the parsed JSON output."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "",
    }
    env.pop("AWS_PROFILE", None)
    proc = subprocess.run(
        [str(AWS), "stepfunctions", *args, "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if proc.returncode != 0:
        # "An error occurred (Code) when calling the Op operation: message"
        code = proc.stderr.split("(", 1)[-1].split(")", 1)[0] if "(" in proc.stderr else ""
        raise CliError(code, proc.stderr)
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


@pytest.fixture(scope="module")
def machine(endpoint: str) -> str:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = aws(
        endpoint,
        "create-state-machine",
        "--name",
        name,
        "--definition",
        json.dumps(WAIT),
        "--role-arn",
        ROLE,
    )
    arn: str = created["stateMachineArn"]
    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    return arn


def test_lifecycle(endpoint: str, machine: str) -> None:
    started = aws(
        endpoint, "start-execution", "--state-machine-arn", machine, "--name", "run-1", "--input", '{"x": 1}'
    )
    execution = started["executionArn"]
    assert execution.endswith(":run-1") and "startDate" in started

    described = aws(endpoint, "describe-execution", "--execution-arn", execution)
    assert described["status"] == "RUNNING" and json.loads(described["input"]) == {"x": 1}

    history = aws(endpoint, "get-execution-history", "--execution-arn", execution)
    types = [e["type"] for e in history["events"]]
    assert types[:2] == ["ExecutionStarted", "WaitStateEntered"]

    stopped = aws(
        endpoint, "stop-execution", "--execution-arn", execution, "--error", "Bye", "--cause", "done"
    )
    assert "stopDate" in stopped
    deadline = time.monotonic() + 10
    while (
        status := aws(endpoint, "describe-execution", "--execution-arn", execution)["status"]
    ) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status == "ABORTED"

    listed = aws(endpoint, "list-executions", "--state-machine-arn", machine, "--status-filter", "ABORTED")
    assert [e["executionArn"] for e in listed["executions"]] == [execution]

    history = aws(endpoint, "get-execution-history", "--execution-arn", execution, "--reverse-order")
    assert history["events"][0]["type"] == "ExecutionAborted"
    assert history["events"][0]["executionAbortedEventDetails"] == {"error": "Bye", "cause": "done"}


def test_errors_come_back_as_aws_codes(endpoint: str) -> None:
    with pytest.raises(CliError) as exc:
        aws(endpoint, "describe-execution", "--execution-arn", "not-an-arn")
    assert exc.value.code == "InvalidArn"
    with pytest.raises(CliError) as exc:
        aws(
            endpoint,
            "create-state-machine",
            "--name",
            "bad",
            "--definition",
            "{}",
            "--role-arn",
            ROLE,
        )
    assert exc.value.code == "InvalidDefinition"


def test_publish_a_version(endpoint: str, machine: str) -> None:
    version = aws(endpoint, "publish-state-machine-version", "--state-machine-arn", machine)
    assert version["stateMachineVersionArn"] == f"{machine}:1"


def test_delete(endpoint: str) -> None:
    name = f"cli-del-{uuid.uuid4().hex[:8]}"
    arn = aws(
        endpoint, "create-state-machine", "--name", name, "--definition", json.dumps(PASS), "--role-arn", ROLE
    )["stateMachineArn"]
    assert aws(endpoint, "delete-state-machine", "--state-machine-arn", arn) == {}
    listed = aws(endpoint, "list-state-machines")
    assert arn not in [m["stateMachineArn"] for m in listed["stateMachines"]]
