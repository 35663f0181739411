"""Map Runs with boto3 against a live ``legato serve``: DescribeMapRun, ListMapRuns,
ListExecutions with mapRunArn, DescribeExecution of a child, UpdateMapRun."""

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
DISTRIBUTED = json.dumps(
    {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Label": "items",
                "MaxConcurrency": 2,
                "ItemSelector": {"n.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
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


def _wait(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING" or time.monotonic() > deadline:
            return desc
        time.sleep(0.02)


def test_map_run_api(sfn: Any) -> None:
    name = f"maprun-{uuid.uuid4().hex[:8]}"
    sm = sfn.create_state_machine(name=name, definition=DISTRIBUTED, roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm, input="[1, 2, 3]")["executionArn"]
    done = _wait(sfn, arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == [{"n": 1}, {"n": 2}, {"n": 3}]

    runs = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    assert len(runs) == 1
    run_arn = runs[0]["mapRunArn"]
    assert run_arn.startswith(f"arn:aws:states:us-east-1:123456789012:mapRun:{name}/items:")
    assert runs[0]["executionArn"] == arn and runs[0]["stateMachineArn"] == sm

    described = sfn.describe_map_run(mapRunArn=run_arn)
    assert described["status"] == "SUCCEEDED"
    assert described["maxConcurrency"] == 2
    assert described["itemCounts"]["succeeded"] == 3 and described["itemCounts"]["total"] == 3
    assert described["executionCounts"]["succeeded"] == 3

    children = sfn.list_executions(mapRunArn=run_arn)["executions"]
    assert len(children) == 3
    prefix = f"arn:aws:states:us-east-1:123456789012:execution:{name}/items:"
    assert all(c["executionArn"].startswith(prefix) for c in children)
    child = sfn.describe_execution(executionArn=children[0]["executionArn"])
    assert child["mapRunArn"] == run_arn
    assert child["status"] == "SUCCEEDED"

    sfn.update_map_run(mapRunArn=run_arn, maxConcurrency=7, toleratedFailureCount=1)
    updated = sfn.describe_map_run(mapRunArn=run_arn)
    assert updated["maxConcurrency"] == 7 and updated["toleratedFailureCount"] == 1


def test_unknown_map_run(sfn: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sfn.describe_map_run(mapRunArn="arn:aws:states:us-east-1:123456789012:mapRun:nope/x:y")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"
