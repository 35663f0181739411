"""DynamoDB Tasks through a live ``legato serve``: tables seeded with ``legato tables``, boto3 client."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
from _live import live_server

from legato.cli import main

ROLE = "arn:aws:iam::123456789012:role/r"

DEFINITION = {
    "StartAt": "Put",
    "States": {
        "Put": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {
                "TableName": "jobs",
                "Item": {"id": {"S.$": "$.id"}, "status": {"S": "NEW"}},
                "ConditionExpression": "attribute_not_exists(id)",
            },
            "ResultPath": None,
            "Next": "Claim",
        },
        "Claim": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": "jobs",
                "Key": {"id": {"S.$": "$.id"}},
                "UpdateExpression": "SET #s = :running ADD attempts :one",
                "ConditionExpression": "#s = :new",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {
                    ":running": {"S": "RUNNING"},
                    ":new": {"S": "NEW"},
                    ":one": {"N": "1"},
                },
                "ReturnValues": "ALL_NEW",
            },
            "ResultSelector": {"item.$": "$.Attributes"},
            "End": True,
        },
    },
}


def _wait(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.02)
    raise AssertionError("the execution did not finish")


def test_dynamodb_tasks_through_serve(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert main(["tables", "create", "jobs", "--hash", "id:S", "--data-dir", str(data)]) == 0
    with live_server(data) as endpoint:
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        machine = sfn.create_state_machine(name="jobs", definition=json.dumps(DEFINITION), roleArn=ROLE)
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"id": "j1"}')[
            "executionArn"
        ]
        done = _wait(sfn, arn)
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"]) == {
            "item": {"id": {"S": "j1"}, "status": {"S": "RUNNING"}, "attempts": {"N": "1"}}
        }
        # The same item again: the put's condition fails, as on AWS.
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"id": "j1"}')[
            "executionArn"
        ]
        failed = _wait(sfn, arn)
        assert failed["status"] == "FAILED"
        assert failed["error"] == "DynamoDB.ConditionalCheckFailedException"
        history = sfn.get_execution_history(executionArn=arn)["events"]
        task_failed = next(e for e in history if e["type"] == "TaskFailed")["taskFailedEventDetails"]
        assert task_failed["resourceType"] == "dynamodb" and task_failed["resource"] == "putItem"
    # The server wrote to the same file the CLI reads.
    assert main(["tables", "describe", "jobs", "--data-dir", str(data)]) == 0
