"""AWS's Distributed Data Stream Aggregator sample (MIT-0), run as AWS would run it.

The three state machines are read from ``../shared/samples/distributed-data-stream-aggregator``
and their placeholders filled in: the HTTP API is a local aiohttp server reached through a
local API_KEY connection, the DynamoDB tables and the S3 bucket live in the embedded
providers, the Glue job is a Python function that concatenates the part files.

What the sample does, and where it goes wrong as it would on AWS:

- the parent queries the ``locations`` table, fans out over the locations with a
  Distributed Map (ItemBatcher, one item a batch), asks each location's summary over HTTP
  and, when it has data, starts the extraction child with ``.sync:2``, passing the
  Task's own ``$states.context.Task.Token``;
- the extraction child loops over the data types and starts the Express processing child
  with ``.sync:2``; that child pages through the API, formats the rows and answers its
  parent's token with ``aws-sdk:sfn:sendTaskSuccess`` — the token's answer, not the
  child's DescribeExecution, is the Task's result, which is why the sample passes tokens
  to ``.sync`` Tasks; the part files land in S3 under ``tmp/TASK/``; the extraction child
  answers the parent's token last;
- the parent starts the Glue job, polls ``getJobRun`` every 30 s (virtual time), and then
  fails in ``Update DynamoDb``: its ``UpdateExpression`` uses ``#CsvUrl`` while
  ``ExpressionAttributeNames`` defines only ``#errorCsvUrl``, a ValidationException on AWS.

What runs: everything above, except that the parent's Distributed Map runs INLINE with an
ItemSelector that wraps each item as ItemBatcher would (Legato's Distributed Map does not
batched before the Map Run work). The sample as written (Distributed Map with ItemBatcher)
runs too. A strict xfail records the gap left: the raw text of the part files (the embedded
S3 provider JSON-encodes a string Body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from legato.engine import Engine
from legato.integrations.glue import register_job
from legato.integrations.settings import IntegrationSettings
from legato.runtime.clock import VirtualClock

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "distributed-data-stream-aggregator"
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason="the shared samples folder is not present")

BUCKET = "agg-data"
KEY = "s3cr3t-key"
ROWS = {
    "failed": [
        {"resourceKey": f"CODE-{i}", "state": "failed", "errors": [{"message": f'bad "code" {i}'}]}
        for i in range(5)
    ],
    "rejected": [],
}
PAGE = 3  # the API's own page size cap: the sample asks for 400 and pages on a short page


def _inline_batches(text: str) -> str:
    """The parent with its Distributed Map run INLINE, each item wrapped as ItemBatcher wraps it
    (``{"Items": [item], "BatchInput": {...}}``): Legato's Distributed Map does not batch yet."""
    doc = json.loads(text)
    fan_out = doc["States"]["Iterate Containers"]
    fan_out["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    batch_input = fan_out.pop("ItemBatcher")["BatchInput"]
    del fan_out["Label"]
    fan_out["ItemSelector"] = {"Items": "{% [$states.context.Map.Item.Value] %}", "BatchInput": batch_input}
    return json.dumps(doc)


def _fill(name: str, port: int, arns: dict[str, str], *, inline: bool = False) -> str:
    text = (SAMPLE / name).read_text()
    for placeholder, value in {
        "'api_endpoint'": f"'http://127.0.0.1:{port}/'",
        "'ConnectionArn'": "'third-party-api'",
        "'s3-bucket-name'": f"'{BUCKET}'",
        "'glue_job'": "'data-aggregation-job'",
        "'task_table'": "'processing-tasks'",
        "'child1'": f"'{arns['extraction']}'",
        "'child2'": f"'{arns['processing']}'",
    }.items():
        text = text.replace(placeholder, value)
    if inline and name == "statemachine.asl.json":
        text = _inline_batches(text)
    return text


async def _api(requests: list[tuple[str, dict[str, str]]]) -> AsyncIterator[int]:
    async def summary(request: web.Request) -> web.Response:
        requests.append((request.path, dict(request.query)))
        if request.headers.get("x-api-key") != KEY:
            return web.json_response({"message": "Forbidden"}, status=403)
        return web.json_response({"states": {"failed": len(ROWS["failed"]), "rejected": 0}})

    async def data(request: web.Request) -> web.Response:
        requests.append((request.path, dict(request.query)))
        rows = ROWS[request.query["state"]]
        offset = int(request.query["offset"])
        page = rows[offset : offset + min(PAGE, int(request.query["limit"]))]
        return web.json_response({"count": len(page), "results": page})

    app = web.Application()
    app.router.add_get("/{location}/get-summary", summary)
    app.router.add_get("/{location}/get-data", data)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


SETUP = {
    "StartAt": "Locations",
    "States": {
        "Locations": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:createTable",
            "Parameters": {
                "TableName": "locations",
                "AttributeDefinitions": [{"AttributeName": "task_id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "task_id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
            "ResultPath": None,
            "Next": "Tasks",
        },
        "Tasks": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:createTable",
            "Parameters": {
                "TableName": "processing-tasks",
                "AttributeDefinitions": [
                    {"AttributeName": "task_id", "AttributeType": "S"},
                    {"AttributeName": "created_at", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "task_id", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
            },
            "ResultPath": None,
            "Next": "Location",
        },
        "Location": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {
                "TableName": "locations",
                "Item": {
                    "task_id": {"S": "task-1"},
                    "location_id": {"S": "location-001"},
                    "api_url": {"S": "unused"},
                },
            },
            "ResultPath": None,
            "Next": "Task",
        },
        "Task": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {
                "TableName": "processing-tasks",
                "Item": {"task_id": {"S": "task-1"}, "created_at": {"S": "2024-12-15T14:30:00.000Z"}},
            },
            "ResultPath": None,
            "Next": "Bucket",
        },
        "Bucket": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:createBucket",
            "Parameters": {"Bucket": BUCKET},
            "End": True,
        },
    },
}


def _combine(data_dir: Path, parts: list[str]) -> Any:
    def job(args: dict[str, str], context: Any) -> None:
        folder = data_dir / "s3" / args["bucket"] / "tmp" / args["task_id"]
        parts.extend(part.read_text() for part in sorted(folder.glob("part-*.json")))

    return job


def _rows(text: str) -> Any:
    rows = json.loads(text)
    # The embedded S3 provider keeps a string Body JSON-encoded (AWS writes the text as is):
    # see test_part_files_hold_the_body_text.
    return json.loads(rows) if isinstance(rows, str) else rows


async def _run_sample(tmp_path: Path, *, inline: bool = True) -> dict[str, Any]:
    settings = IntegrationSettings(
        data_dir=tmp_path,
        sections={
            "connections": {
                "third-party-api": {
                    "authorization_type": "API_KEY",
                    "api_key_name": "x-api-key",
                    "api_key_value_env": "AGGREGATOR_API_KEY",
                }
            }
        },
    )
    parts: list[str] = []
    register_job("data-aggregation-job", _combine(tmp_path, parts), settings)
    engine = Engine(clock=VirtualClock(), integrations=settings)
    requests: list[tuple[str, dict[str, str]]] = []
    out: dict[str, Any] = {"requests": requests, "parts": parts}
    api = _api(requests)
    port = await api.__anext__()
    try:
        setup = await engine.create_state_machine(name="setup", definition=json.dumps(SETUP))
        done = await engine.wait_for_execution(
            (await engine.start_execution(stateMachineArn=setup["stateMachineArn"]))["executionArn"], 30
        )
        assert done["status"] == "SUCCEEDED", done
        sm = "arn:aws:states:us-east-1:123456789012:stateMachine:"
        arns = {"extraction": sm + "DataExtractionChild", "processing": sm + "DataProcessingChildExpress"}
        machines = [
            ("DataProcessingChildExpress", "data-processing-child.asl.json", "EXPRESS"),
            ("DataExtractionChild", "data-extraction-child.asl.json", "STANDARD"),
            ("DistributedDataStreamAggregator", "statemachine.asl.json", "STANDARD"),
        ]
        out["validation"] = {}
        for name, file, type_ in machines:
            definition = _fill(file, port, arns, inline=inline)
            out["validation"][name] = await engine.validate_state_machine_definition(
                definition=definition, type=type_
            )
            await engine.create_state_machine(name=name, definition=definition, type=type_)
        started = await engine.start_execution(
            stateMachineArn=sm + "DistributedDataStreamAggregator",
            name="aggregate-1",
            input=json.dumps({"task_id": "task-1", "task_sort_key": "2024-12-15T14:30:00.000Z"}),
        )
        out["parent"] = await engine.wait_for_execution(started["executionArn"], 60)
        out["history"] = (await engine.get_execution_history(executionArn=started["executionArn"]))["events"]
        children = await engine.list_executions(stateMachineArn=arns["extraction"])
        out["children"] = [
            await engine.describe_execution(executionArn=e["executionArn"]) for e in children["executions"]
        ]
    finally:
        await engine.aclose()
        await api.aclose()
    return out


def test_aggregator_sample_runs_as_on_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_API_KEY", KEY)
    out = asyncio.run(_run_sample(tmp_path))

    # The three definitions validate once their placeholders are filled.
    for name, result in out["validation"].items():
        assert result["result"] == "OK", (name, result)

    # The HTTP calls: the connection's key, the sample's query parameters; the API's short
    # page (3 rows of 5) ends the sample's paging, as its "Check pagination" says.
    assert [p for p, _ in out["requests"]] == [
        "/location-001/get-summary",
        "/location-001/get-data",
        "/location-001/get-data",
    ]
    pages = [q for p, q in out["requests"] if p.endswith("/get-data")]
    assert pages == [
        {"state": "failed", "limit": "400", "offset": "0"},
        {"state": "rejected", "limit": "400", "offset": "0"},
    ]

    # The extraction child ran and answered the parent's token (its own output is {}).
    assert [(c["status"], c["output"]) for c in out["children"]] == [("SUCCEEDED", "{}")]
    child_input = json.loads(out["children"][0]["input"])
    assert child_input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == out["parent"]["executionArn"]

    # One part file for the failed rows (none for rejected), combined by the Glue job;
    # the sample strips the double quotes from the messages.
    assert len(out["parts"]) == 1
    rows = _rows(out["parts"][0])
    assert rows == [
        {"discount_code": f"CODE-{i}", "error_message": f"bad code {i}", "status": "failed"} for i in range(3)
    ]

    # The token's answer is the Extract Data result, not the child's DescribeExecution.
    extract = [
        e for e in out["history"] if e["type"] == "TaskSucceeded" and "startExecution" in json.dumps(e)
    ]
    assert json.loads(extract[0]["taskSucceededEventDetails"]["output"]) == {"status": " complete"}

    # The sample's own mistake: #CsvUrl is used, only #errorCsvUrl is defined. AWS fails the
    # Task with DynamoDB's ValidationException.
    parent = out["parent"]
    assert parent["status"] == "FAILED"
    assert parent["error"] == "DynamoDB.AmazonDynamoDBException", parent
    assert "Error Code: ValidationException" in parent["cause"]
    assert "#errorCsvUrl" in parent["cause"]
    failed = [e for e in out["history"] if e["type"] == "TaskFailed"][-1]
    assert failed["taskFailedEventDetails"]["resource"] == "updateItem"


@pytest.mark.xfail(strict=True, reason="the embedded S3 provider stores a string Body JSON-encoded")
def test_part_files_hold_the_body_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_API_KEY", KEY)
    out = asyncio.run(_run_sample(tmp_path))
    assert out["parts"][0].startswith('[{"discount_code":"CODE-0"')


def test_distributed_map_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_API_KEY", KEY)
    out = asyncio.run(_run_sample(tmp_path, inline=False))
    assert out["parent"]["error"] == "DynamoDB.AmazonDynamoDBException", out["parent"]
