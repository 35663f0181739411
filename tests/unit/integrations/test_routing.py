"""Optimised integrations routed by configuration to a compatible endpoint through boto3.

A moto server on the loopback stands in for AWS (SQS, SNS, EventBridge, Glue, DynamoDB); a small
aiohttp server speaking Glue's JSON protocol covers what moto's Glue cannot do (a run that
fails, BatchStopJobRun).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiohttp import web
from test_messaging import ACCOUNT, SM, _run, _task

from legato.engine import Engine
from legato.integrations import events, glue, sqs
from legato.integrations.registry import TaskCall
from legato.integrations.settings import IntegrationSettings
from legato.runtime.clock import VirtualClock
from legato.runtime.services import Services

moto_server = pytest.importorskip("moto.server")

KEY = {"access_key_id_env": "LEGATO_TEST_KEY", "secret_access_key_env": "LEGATO_TEST_SECRET"}


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """The URL of a moto server on a free loopback port."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGATO_TEST_KEY", "testing")
    monkeypatch.setenv("LEGATO_TEST_SECRET", "testing")


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _engine(tmp_path: Path, services: dict[str, Any]) -> Engine:
    settings = IntegrationSettings(data_dir=tmp_path, sections={"services": services})
    return Engine(clock=VirtualClock(), integrations=settings)


def _sdk_metadata_is_the_response(result: dict[str, Any], content_type: str) -> None:
    http = result["SdkHttpMetadata"]
    assert http["HttpStatusCode"] == 200
    assert http["HttpHeaders"]["Content-Type"].startswith(content_type)
    assert http["HttpHeaders"]["x-amzn-RequestId"] == result["SdkResponseMetadata"]["RequestId"]


# -- SQS


def test_sqs_send_message_routed_to_an_endpoint(tmp_path: Path, moto: str) -> None:
    remote = _client("sqs", moto)
    url = remote.create_queue(QueueName="routed-orders")["QueueUrl"]

    async def go() -> None:
        engine = _engine(tmp_path, {"sqs": {"endpoint_url": moto, "region": "us-east-1", **KEY}})
        attributes = {"kind": {"DataType": "String", "StringValue": "new"}}
        definition = _task(
            "arn:aws:states:::sqs:sendMessage",
            {"QueueUrl": url, "MessageBody.$": "$", "MessageAttributes": attributes},
        )
        out = await _run(engine, definition, {"order": 7})
        assert out["status"] == "SUCCEEDED", out
        result = json.loads(out["output"])
        assert result["MD5OfMessageBody"] == hashlib.md5(b'{"order":7}').hexdigest()
        assert result["MD5OfMessageAttributes"] == sqs.md5_of_attributes(attributes)
        _sdk_metadata_is_the_response(result, "application/x-amz-json-1.0")
        [message] = remote.receive_message(QueueUrl=url)["Messages"]
        assert message["Body"] == '{"order":7}' and message["MessageId"] == result["MessageId"]
        assert sqs.for_engine(engine).list_queues() == []  # the embedded provider was not used

        missing = await _run(
            engine,
            _task(
                "arn:aws:states:::sqs:sendMessage", {"QueueUrl": f"{moto}/{ACCOUNT}/nope", "MessageBody": "x"}
            ),
        )
        assert missing["error"] == "SQS.QueueDoesNotExistException"
        assert missing["cause"].startswith(
            "The specified queue does not exist. (Service: AmazonSQS; Status Code: 400; "
            "Error Code: AWS.SimpleQueueService.NonExistentQueue; Request ID: "
        )
        assert missing["cause"].endswith("; Proxy: null)")
        # The aws-sdk form names the same error after the modeled exception too.
        sdk = await _run(
            engine,
            _task(
                "arn:aws:states:::aws-sdk:sqs:sendMessage",
                {"QueueUrl": f"{moto}/{ACCOUNT}/nope", "MessageBody": "x"},
            ),
        )
        assert sdk["error"] == "Sqs.QueueDoesNotExistException"
        assert sdk["cause"].startswith("The specified queue does not exist. (Service: Sqs, Status Code: 400,")
        await engine.aclose()

    asyncio.run(go())


def test_sqs_unreachable_endpoint_is_an_sdk_client_exception(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def go() -> None:
        engine = _engine(tmp_path, {"sqs": {"endpoint_url": f"http://127.0.0.1:{port}", **KEY}})
        url = f"http://127.0.0.1:{port}/{ACCOUNT}/q"
        out = await _run(
            engine, _task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": "x"})
        )
        assert out["error"] == "SQS.SdkClientException"
        assert out["cause"].startswith("Unable to execute HTTP request: ")
        await engine.aclose()

    asyncio.run(go())


# -- SNS


def test_sns_publish_routed_to_an_endpoint(tmp_path: Path, moto: str) -> None:
    topics, queues = _client("sns", moto), _client("sqs", moto)
    topic = topics.create_topic(Name="routed-news")["TopicArn"]
    url = queues.create_queue(QueueName="routed-news-q")["QueueUrl"]
    queue_arn = queues.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topics.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    async def go() -> None:
        engine = _engine(tmp_path, {"sns": {"endpoint_url": moto, **KEY}})
        out = await _run(
            engine,
            _task(
                "arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"hello": 1}, "Subject": "s"}
            ),
        )
        assert out["status"] == "SUCCEEDED", out
        result = json.loads(out["output"])
        _sdk_metadata_is_the_response(result, "text/xml")
        [message] = queues.receive_message(QueueUrl=url)["Messages"]
        envelope = json.loads(message["Body"])
        assert envelope["MessageId"] == result["MessageId"]
        assert envelope["Message"] == '{"hello":1}' and envelope["Subject"] == "s"

        missing = await _run(
            engine, _task("arn:aws:states:::sns:publish", {"TopicArn": topic + "-nope", "Message": "m"})
        )
        assert missing["error"] == "SNS.NotFoundException"
        assert "(Service: AmazonSNS; Status Code: 404; Error Code: NotFound; Request ID: " in missing["cause"]
        await engine.aclose()

    asyncio.run(go())


# -- EventBridge


def test_events_put_events_routed_to_an_endpoint(tmp_path: Path, moto: str) -> None:
    bridge, queues = _client("events", moto), _client("sqs", moto)
    url = queues.create_queue(QueueName="routed-events-q")["QueueUrl"]
    queue_arn = queues.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bridge.put_rule(Name="routed-shop", EventPattern=json.dumps({"source": ["routed.shop"]}))
    bridge.put_targets(Rule="routed-shop", Targets=[{"Id": "1", "Arn": queue_arn}])

    async def go() -> None:
        # ``eventbridge`` (the aws-sdk name) routes the optimised ``events`` integration too.
        engine = _engine(tmp_path, {"eventbridge": {"endpoint_url": moto, **KEY}})
        definition = _task("arn:aws:states:::events:putEvents", {"Entries.$": "$.e"})
        entry = {"Source": "routed.shop", "DetailType": "order", "Detail": {"n": 1}, "Resources": ["arn:app"]}
        out = await _run(engine, definition, {"e": [entry]}, name="put")
        assert out["status"] == "SUCCEEDED", out
        result = json.loads(out["output"])
        assert list(result) == ["Entries", "FailedEntryCount"] and result["FailedEntryCount"] == 0
        [message] = queues.receive_message(QueueUrl=url)["Messages"]
        event = json.loads(message["Body"])
        assert event["id"] == result["Entries"][0]["EventId"] and event["detail"] == {"n": 1}
        # Step Functions appends the execution's and the state machine's ARNs.
        assert event["resources"] == ["arn:app", out["executionArn"], SM + "put"]
        assert events.for_engine(engine).list_events() == []

        mixed = [entry, {"Source": "routed.shop", "DetailType": "order", "Detail": "{not json"}]
        failed = await _run(engine, definition, {"e": mixed}, name="put")
        assert failed["error"] == "EventBridge.FailedEntry"
        cause = json.loads(failed["cause"])
        assert cause["FailedEntryCount"] == 1
        assert cause["Entries"][1] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}

        no_bus = await _run(engine, definition, {"e": [{**entry, "EventBusName": "nope"}]}, name="put")
        assert no_bus["error"] == "EventBridge.ResourceNotFoundException"
        assert no_bus["cause"].startswith(
            "Event bus nope does not exist. (Service: AmazonEventBridge; Status Code: 400; "
            "Error Code: ResourceNotFoundException; Request ID: "
        )
        await engine.aclose()

    asyncio.run(go())


# -- Glue


def _moto_transition(moto: str, action: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{moto}/moto-api/state-manager/{action}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request) as response:
        response.read()


def test_glue_start_job_run_routed_to_an_endpoint(tmp_path: Path, moto: str) -> None:
    _client("glue", moto).create_job(
        Name="routed-etl",
        Role="r",
        Command={"Name": "glueetl", "ScriptLocation": "s3://b/etl.py"},
        ExecutionProperty={"MaxConcurrentRuns": 5},
    )
    # moto's runs go STARTING, RUNNING, SUCCEEDED, one step every second GetJobRun.
    _moto_transition(
        moto,
        "set-transition",
        {"model_name": "glue::job_run", "transition": {"progression": "manual", "times": 2}},
    )

    async def go() -> None:
        engine = _engine(tmp_path, {"glue": {"endpoint_url": moto, "poll_interval": 0.01, **KEY}})
        started = await _run(
            engine,
            _task(
                "arn:aws:states:::glue:startJobRun", {"JobName": "routed-etl", "Arguments": {"--day": "mon"}}
            ),
        )
        assert started["status"] == "SUCCEEDED", started
        result = json.loads(started["output"])
        assert result["JobName"] == "routed-etl" and result["JobRunId"].startswith("jr_")
        _sdk_metadata_is_the_response(result, "application/x-amz-json-1.1")

        sync = _task(
            "arn:aws:states:::glue:startJobRun.sync", {"JobName": "routed-etl", "Arguments": {"--n": 3}}
        )
        out = await _run(engine, sync, name="sync")
        assert out["status"] == "SUCCEEDED", (out.get("error"), out.get("cause"))
        run = json.loads(out["output"])
        assert run["JobRunState"] == "SUCCEEDED" and run["JobName"] == "routed-etl"
        assert run["Arguments"] == {"--n": "3"} and isinstance(run["StartedOn"], str)
        history = (await engine.get_execution_history(executionArn=out["executionArn"]))["events"]
        [submitted] = [e for e in history if e["type"] == "TaskSubmitted"]
        assert json.loads(submitted["taskSubmittedEventDetails"]["output"])["JobRunId"] == run["Id"]

        unknown = await _run(engine, _task("arn:aws:states:::glue:startJobRun", {"JobName": "nope"}))
        assert unknown["error"] == "Glue.EntityNotFoundException"
        assert unknown["cause"].startswith(
            "Job nope not found. (Service: AWSGlue; Status Code: 400; Error Code: EntityNotFoundException; "
        )
        assert glue.get_job_run(engine.integrations, "routed-etl", run["Id"]) is None  # not run locally
        await engine.aclose()

    try:
        asyncio.run(go())
    finally:
        _moto_transition(moto, "unset-transition", {"model_name": "glue::job_run"})


class _FakeGlue:
    """Glue's JSON 1.1 protocol for StartJobRun, GetJobRun and BatchStopJobRun: every run
    is RUNNING for two polls, then FAILED."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.polls = 0

    async def handle(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").partition(".")[2]
        body = json.loads(await request.read() or b"{}")
        self.calls.append((operation, body))
        answer: dict[str, Any]
        if operation == "StartJobRun":
            answer = {"JobRunId": "jr_fake"}
        elif operation == "GetJobRun":
            self.polls += 1
            state = "RUNNING" if self.polls <= 2 else "FAILED"
            answer = {
                "JobRun": {
                    "Id": body["RunId"],
                    "JobName": body["JobName"],
                    "JobRunState": state,
                    "StartedOn": 1_700_000_000.5,
                    **({"ErrorMessage": "out of memory"} if state == "FAILED" else {}),
                }
            }
        elif operation == "BatchStopJobRun":
            answer = {
                "SuccessfulSubmissions": [{"JobName": body["JobName"], "JobRunId": body["JobRunIds"][0]}]
            }
        else:
            return web.json_response({"__type": "InvalidInputException", "message": "no"}, status=400)
        return web.Response(
            text=json.dumps(answer),
            content_type="application/x-amz-json-1.1",
            headers={"x-amzn-RequestId": "req-1"},
        )


def test_glue_sync_run_that_fails_resumes_and_stops_on_a_compatible_server(tmp_path: Path) -> None:
    fake = _FakeGlue()

    async def go() -> None:
        app = web.Application()
        app.router.add_post("/", fake.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        config = {"endpoint_url": f"http://127.0.0.1:{port}", "poll_interval": 0.01, **KEY}
        engine = _engine(tmp_path, {"glue": config})
        sync = _task("arn:aws:states:::glue:startJobRun.sync", {"JobName": "etl"})
        out = await _run(engine, sync)
        assert out["error"] == "States.TaskFailed"
        cause = json.loads(out["cause"])
        assert cause["JobRunState"] == "FAILED" and cause["ErrorMessage"] == "out of memory"
        assert cause["StartedOn"].startswith("2023-11-14T22:13:20.500")
        assert [c[0] for c in fake.calls] == ["StartJobRun", "GetJobRun", "GetJobRun", "GetJobRun"]

        # A Task resumed after a restart waits for the run it had started, and starts none.
        services = Services(
            integrations=IntegrationSettings(data_dir=tmp_path, sections={"services": {"glue": config}})
        )

        def call(resumed: Any = None) -> TaskCall:
            return TaskCall(
                services=services,
                resource="arn:aws:states:::glue:startJobRun.sync",
                service="glue",
                action="startJobRun",
                pattern="sync",
                parameters={"JobName": "etl"},
                state_name="T",
                execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e",
                context={},
                resumed=resumed,
            )

        fake.calls.clear()
        fake.polls = 0
        with pytest.raises(Exception, match="out of memory"):
            await glue.glue_start_job_run(call({"JobName": "etl", "JobRunId": "jr_before"}))
        assert {c[0] for c in fake.calls} == {"GetJobRun"}
        assert fake.calls[0][1] == {"JobName": "etl", "RunId": "jr_before"}

        # A Task stopped while it waits (a timeout, an abort) stops the run.
        fake.calls.clear()
        fake.polls = -1000
        waiting = asyncio.ensure_future(glue.glue_start_job_run(call()))
        while len(fake.calls) < 3:
            await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        while not any(c[0] == "BatchStopJobRun" for c in fake.calls):
            await asyncio.sleep(0.01)
        assert ("BatchStopJobRun", {"JobName": "etl", "JobRunIds": ["jr_fake"]}) in fake.calls
        services.executor.shutdown(wait=True)
        await engine.aclose()
        await runner.cleanup()

    asyncio.run(go())


# -- DynamoDB


def test_dynamodb_optimised_and_sdk_routed_to_an_endpoint(tmp_path: Path, moto: str) -> None:
    _client("dynamodb", moto).create_table(
        TableName="routed-orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    async def go() -> None:
        engine = _engine(tmp_path, {"dynamodb": {"endpoint_url": moto, **KEY}})
        item = {"pk": {"S": "o1"}, "total": {"N": "5"}}
        put = _task(
            "arn:aws:states:::dynamodb:putItem",
            {"TableName": "routed-orders", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"},
        )
        out = await _run(engine, put, name="put")
        assert out["status"] == "SUCCEEDED", out
        assert json.loads(out["output"])["SdkHttpMetadata"]["HttpStatusCode"] == 200
        again = await _run(engine, put, name="put")
        assert again["error"] == "DynamoDB.ConditionalCheckFailedException"
        assert (
            "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException;"
            in (again["cause"])
        )
        get = _task(
            "arn:aws:states:::dynamodb:getItem", {"TableName": "routed-orders", "Key": {"pk": {"S": "o1"}}}
        )
        got = await _run(engine, get, name="get")
        assert json.loads(got["output"])["Item"] == item
        no_table = await _run(
            engine,
            _task("arn:aws:states:::dynamodb:getItem", {"TableName": "nope", "Key": {"pk": {"S": "o1"}}}),
            name="get",
        )
        assert no_table["error"] == "DynamoDB.ResourceNotFoundException"
        invalid = await _run(
            engine,
            _task(
                "arn:aws:states:::dynamodb:getItem",
                {"TableName": "routed-orders", "Key": {"nokey": {"S": "x"}}},
            ),
            name="get",
        )
        assert invalid["error"] == "DynamoDB.AmazonDynamoDBException"
        assert "Error Code: ValidationException;" in invalid["cause"]
        sdk = await _run(
            engine,
            _task(
                "arn:aws:states:::aws-sdk:dynamodb:getItem",
                {"TableName": "routed-orders", "Key": {"pk": {"S": "o1"}}},
            ),
            name="sdk",
        )
        assert json.loads(sdk["output"]) == {"Item": item}
        await engine.aclose()

    asyncio.run(go())


def test_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    page = Path(__file__).resolve().parents[3] / "docs" / "integrations.md"
    [block] = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    exec(compile(block, "integrations.md", "exec"), {})
    assert capsys.readouterr().out.splitlines()[-1] == '{"order":7}'
