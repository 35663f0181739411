"""SQS, SNS, EventBridge and Glue Tasks through a live ``legato serve`` (boto3 client)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
from _live import live_server

from legato.integrations.sqs import Sqs

ROLE = "arn:aws:iam::123456789012:role/r"


def _client(url: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def _wait(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.02)
    raise AssertionError("the execution did not finish")


def test_send_message_and_glue_job_through_serve(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.py"
    jobs.write_text("def etl(args, context):\n    assert args['day'] == 'mon'\n\nGLUE_JOBS = {'etl': etl}\n")
    data = tmp_path / "data"
    data.mkdir()
    url = Sqs.at(data).create_queue("api-queue")
    definition = {
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": url, "MessageBody.$": "$"},
                "ResultPath": "$.sent",
                "Next": "Job",
            },
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": "etl", "Arguments": {"--day": "mon"}},
                "ResultSelector": {"state.$": "$.JobRunState"},
                "End": True,
            },
        },
    }
    with live_server(data, "--jobs", str(jobs)) as endpoint:
        sfn = _client(endpoint)
        arn = sfn.create_state_machine(name="msg", definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
        started = sfn.start_execution(stateMachineArn=arn, input='{"order": 7}')
        described = _wait(sfn, started["executionArn"])
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"state": "SUCCEEDED"}
    [message] = Sqs.at(data).receive_message(url)
    assert json.loads(message["Body"]) == {"order": 7}
