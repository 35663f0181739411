"""Nested executions and Step Functions Local mocks through boto3 against a live ``legato serve``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from _live import live_server
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/test"

MOCKS = {
    "StateMachines": {
        "Doubler": {
            "TestCases": {
                "Mocked": {"Double": "DoubleMocked"},
                "Broken": {"Double": "DoubleThrows"},
            }
        }
    },
    "MockedResponses": {
        "DoubleMocked": {"0": {"Return": {"StatusCode": 200, "Payload": {"n": 1000}}}},
        "DoubleThrows": {"0": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "slow down"}}},
    },
}

DOUBLER = {
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "double", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "End": True,
        }
    },
}


def _client(url: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def _wait_done(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        d: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING" or time.monotonic() > deadline:
            return d
        time.sleep(0.02)


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir = tmp_path_factory.mktemp("mocked")
    config = Path(data_dir) / "MockConfigFile.json"
    config.write_text(json.dumps(MOCKS))
    with live_server(data_dir, "--mock-config", str(config), "--clock", "virtual") as url:
        yield _client(url)


def test_test_case_mocks_the_task_and_plain_arn_runs_it_for_real(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="Doubler", definition=json.dumps(DOUBLER), roleArn=ROLE)[
        "stateMachineArn"
    ]
    real = sfn.start_execution(stateMachineArn=arn, input='{"n": 4}')["executionArn"]
    mocked = sfn.start_execution(stateMachineArn=f"{arn}#Mocked", input='{"n": 4}')["executionArn"]
    broken = sfn.start_execution(stateMachineArn=f"{arn}#Broken", input='{"n": 4}')["executionArn"]
    assert json.loads(_wait_done(sfn, real)["output"]) == {"n": 8}
    assert json.loads(_wait_done(sfn, mocked)["output"]) == {"n": 1000}
    failed = _wait_done(sfn, broken)
    assert (failed["error"], failed["cause"]) == ("Lambda.TooManyRequestsException", "slow down")
    types = [e["type"] for e in sfn.get_execution_history(executionArn=mocked)["events"]]
    assert types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]


def test_unknown_test_case_is_rejected(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="Doubler2", definition=json.dumps(DOUBLER), roleArn=ROLE)[
        "stateMachineArn"
    ]
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=f"{arn}#Mocked")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "no test case 'Mocked' for the state machine 'Doubler2'" in info.value.response["Error"]["Message"]


def test_nested_sync2_through_the_api(sfn: Any) -> None:
    child = sfn.create_state_machine(name="Child", definition=json.dumps(DOUBLER), roleArn=ROLE)
    parent = {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child["stateMachineArn"], "Input": {"n.$": "$.n"}},
                "OutputPath": "$.Output",
                "End": True,
            }
        },
    }
    arn = sfn.create_state_machine(name="Parent", definition=json.dumps(parent), roleArn=ROLE)[
        "stateMachineArn"
    ]
    run = sfn.start_execution(stateMachineArn=arn, input='{"n": 21}')["executionArn"]
    assert json.loads(_wait_done(sfn, run)["output"]) == {"n": 42}
