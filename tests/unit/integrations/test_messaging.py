"""Embedded SQS, SNS, EventBridge and Glue: providers, Task integrations, CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from legato.cli import main
from legato.engine import Engine
from legato.integrations import events, glue, sns, sqs
from legato.integrations.settings import IntegrationSettings
from legato.runtime.clock import VirtualClock

ACCOUNT = "123456789012"
SM = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:"


def _engine(tmp_path: Path) -> Engine:
    return Engine(clock=VirtualClock(), integrations=IntegrationSettings(data_dir=tmp_path))


def _task(resource: str, parameters: dict[str, Any], **extra: Any) -> str:
    state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True, **extra}
    return json.dumps({"StartAt": "T", "States": {"T": state}})


async def _run(engine: Engine, definition: str, value: Any = None, name: str = "m") -> dict[str, Any]:
    try:
        await engine.create_state_machine(
            name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/r"
        )
    except Exception:
        await engine.update_state_machine(stateMachineArn=SM + name, definition=definition)
    started = await engine.start_execution(stateMachineArn=SM + name, input=json.dumps(value or {}))
    for _ in range(4000):
        described = await engine.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            return dict(described)
        await asyncio.sleep(0.005)
    raise AssertionError("the execution did not finish")


# -- SQS


def test_sqs_provider_send_receive_delete(tmp_path: Path) -> None:
    q = sqs.Sqs.at(tmp_path)
    url = q.create_queue("orders")
    assert url == f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders"
    assert q.create_queue("orders") == url  # idempotent
    sent = q.send_message(url, "hello", attributes={"a": {"DataType": "String", "StringValue": "b"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    [message] = q.receive_message(url, 10)
    assert message["Body"] == "hello" and message["MessageId"] == sent["MessageId"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert q.receive_message(url) == []  # in flight
    q.delete_message(url, message["ReceiptHandle"])
    assert q.get_queue_attributes(url)["ApproximateNumberOfMessagesNotVisible"] == "0"
    # durable: a second handle on the same directory sees the queue
    assert sqs.Sqs.at(tmp_path).list_queues() == [url]


def test_sqs_md5_of_attributes_matches_aws_example() -> None:
    # The digest SQS computes for {"a": String "b"} (length-prefixed name, type, 1, value).
    digest = hashlib.md5(
        b"\x00\x00\x00\x01a" + b"\x00\x00\x00\x06String" + b"\x01" + b"\x00\x00\x00\x01b"
    ).hexdigest()
    assert sqs.md5_of_attributes({"a": {"DataType": "String", "StringValue": "b"}}) == digest


def test_sqs_fifo_groups_and_deduplication(tmp_path: Path) -> None:
    q = sqs.Sqs.at(tmp_path)
    url = q.create_queue("jobs.fifo")
    with pytest.raises(sqs.SqsError, match="MessageGroupId"):
        q.send_message(url, "x")
    with pytest.raises(sqs.SqsError, match="ContentBasedDeduplication"):
        q.send_message(url, "x", group_id="g")
    first = q.send_message(url, "1", group_id="g", deduplication_id="d1")
    again = q.send_message(url, "1", group_id="g", deduplication_id="d1")
    assert again["MessageId"] == first["MessageId"] and len(first["SequenceNumber"]) == 20
    q.send_message(url, "2", group_id="g", deduplication_id="d2")
    got = q.receive_message(url, 1)
    assert [m["Body"] for m in got] == ["1"]
    assert q.receive_message(url, 10) == []  # the group is blocked while "1" is in flight


def test_sqs_send_message_task(tmp_path: Path) -> None:
    async def go() -> None:
        engine = _engine(tmp_path)
        url = sqs.for_engine(engine).create_queue("q1")
        definition = _task(
            "arn:aws:states:::sqs:sendMessage",
            {"QueueUrl.$": "$.url", "MessageBody": {"k.$": "$.v"}, "DelaySeconds": 0},
        )
        out = await _run(engine, definition, {"url": url, "v": "x"})
        assert out["status"] == "SUCCEEDED", out
        result = json.loads(out["output"])
        assert set(result) == {"MD5OfMessageBody", "MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}
        assert result["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "106"
        [message] = sqs.for_engine(engine).receive_message(url)
        assert message["Body"] == '{"k":"x"}'
        missing = await _run(engine, definition, {"url": url[:-1] + "9", "v": "x"})
        assert missing["error"] == "SQS.QueueDoesNotExistException"
        host = await _run(engine, definition, {"url": "http://no-such-queue-1", "v": "x"})
        assert (host["error"], host["cause"]) == (
            "SQS.SdkClientException",
            "Unable to execute HTTP request: no-such-queue-1: Name or service not known",
        )
        empty = await _run(
            engine, _task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": None})
        )
        assert empty["error"] == "SQS.AmazonSQSException"
        assert empty["cause"].startswith(
            "The request must contain the parameter MessageBody. (Service: AmazonSQS; Status Code: 400; "
            "Error Code: MissingParameter; Request ID: "
        )
        await engine.aclose()

    asyncio.run(go())


def test_sqs_wait_for_task_token_sends_the_token(tmp_path: Path) -> None:
    async def go() -> None:
        engine = _engine(tmp_path)
        queues = sqs.for_engine(engine)
        url = queues.create_queue("callbacks")
        definition = _task(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            {"QueueUrl": url, "MessageBody": {"Token.$": "$$.Task.Token"}},
        )
        await engine.create_state_machine(
            name="cb", definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/r"
        )
        started = await engine.start_execution(stateMachineArn=SM + "cb")
        for _ in range(400):
            messages = queues.receive_message(url)
            if messages:
                break
            await asyncio.sleep(0.005)
        token = json.loads(messages[0]["Body"])["Token"]
        await engine.send_task_success(taskToken=token, output='{"done": true}')
        for _ in range(400):
            described = await engine.describe_execution(executionArn=started["executionArn"])
            if described["status"] != "RUNNING":
                break
            await asyncio.sleep(0.005)
        assert json.loads(described["output"]) == {"done": True}
        await engine.aclose()

    asyncio.run(go())


def test_aws_sdk_sqs_receive(tmp_path: Path) -> None:
    async def go() -> None:
        engine = _engine(tmp_path)
        url = sqs.for_engine(engine).create_queue("sdk")
        sqs.for_engine(engine).send_message(url, "m1")
        out = await _run(engine, _task("arn:aws:states:::aws-sdk:sqs:receiveMessage", {"QueueUrl": url}))
        assert [m["Body"] for m in json.loads(out["output"])["Messages"]] == ["m1"]
        bad = await _run(
            engine, _task("arn:aws:states:::aws-sdk:sqs:receiveMessage", {"QueueUrl": url + "x"})
        )
        assert bad["error"] == "Sqs.QueueDoesNotExistException"
        await engine.aclose()

    asyncio.run(go())


# -- SNS


def test_sns_publish_delivers_to_queue_and_http(tmp_path: Path) -> None:
    received: list[tuple[dict[str, str], str]] = []

    async def endpoint(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.text()))
        return web.Response(status=200)

    async def go() -> None:
        app = web.Application()
        app.router.add_post("/hook", endpoint)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        engine = _engine(tmp_path)
        topics, queues = sns.for_engine(engine), sqs.for_engine(engine)
        topic = topics.create_topic("news")
        envelope_q = queues.create_queue("env")
        raw_q = queues.create_queue("raw")
        topics.subscribe(topic, "sqs", f"arn:aws:sqs:us-east-1:{ACCOUNT}:env")
        topics.subscribe(topic, "sqs", raw_q, raw=True)
        topics.subscribe(topic, "http", f"http://127.0.0.1:{port}/hook")
        definition = _task(
            "arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"hello": 1}, "Subject": "s"}
        )
        out = await _run(engine, definition)
        assert out["status"] == "SUCCEEDED", out
        result = json.loads(out["output"])
        assert result["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "294"
        [env] = queues.receive_message(envelope_q)
        body = json.loads(env["Body"])
        assert body["Type"] == "Notification" and body["Message"] == '{"hello":1}' and body["Subject"] == "s"
        assert body["MessageId"] == result["MessageId"] and body["TopicArn"] == topic
        assert queues.receive_message(raw_q)[0]["Body"] == '{"hello":1}'
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.01)
        headers, text = received[0]
        assert (
            headers["x-amz-sns-message-type"] == "Notification"
            and json.loads(text)["Message"] == '{"hello":1}'
        )
        missing = await _run(
            engine, _task("arn:aws:states:::sns:publish", {"TopicArn": topic + "x", "Message": "m"})
        )
        assert missing["error"] == "SNS.NotFoundException"
        assert missing["cause"].startswith("Topic does not exist (Service: AmazonSNS; Status Code: 404;")
        await engine.aclose()
        await runner.cleanup()

    asyncio.run(go())


def test_sns_fifo_topic_needs_group(tmp_path: Path) -> None:
    topics = sns.Sns.at(tmp_path)
    arn = topics.create_topic("t.fifo")
    with pytest.raises(sns.SnsError, match="The MessageGroupId parameter is required for FIFO topics"):
        topics.publish(arn, "m")
    result = topics.publish(arn, "m", group_id="g", deduplication_id="d")
    assert len(result["SequenceNumber"]) == 20


# -- EventBridge


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ({"source": ["a.b"]}, True),
        ({"source": [{"prefix": "a."}]}, True),
        ({"source": [{"anything-but": ["a.b"]}]}, False),
        ({"detail": {"n": [{"numeric": [">", 1, "<=", 5]}]}}, True),
        ({"detail": {"n": [{"numeric": [">", 5]}]}}, False),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail-type": ["x"], "detail": {"tags": ["t2"]}}, True),
        ({"detail": {"n": ["5"]}}, False),
    ],
)
def test_event_patterns(pattern: dict[str, Any], matched: bool) -> None:
    event = {"source": "a.b", "detail-type": "x", "detail": {"n": 5, "tags": ["t1", "t2"]}}
    assert events.matches(pattern, event) is matched


def test_put_events_records_and_rules_start_executions(tmp_path: Path) -> None:
    async def go() -> None:
        engine = _engine(tmp_path)
        target = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        await engine.create_state_machine(
            name="target", definition=target, roleArn=f"arn:aws:iam::{ACCOUNT}:role/r"
        )
        bridge = events.for_engine(engine)
        bridge.put_rule("r", {"source": ["shop"], "detail": {"total": [{"numeric": [">", 10]}]}})
        bridge.put_targets("r", [{"Id": "1", "Arn": SM + "target"}])
        definition = _task("arn:aws:states:::events:putEvents", {"Entries.$": "$.e"})
        entries = [
            {"Source": "shop", "DetailType": "order", "Detail": {"total": 20}},
            {"Source": "shop", "DetailType": "order", "Detail": '{"total": 5}'},
        ]
        out = await _run(engine, definition, {"e": entries})
        assert json.loads(out["output"])["FailedEntryCount"] == 0
        assert [e["detail"]["total"] for e in bridge.list_events()] == [20, 5]
        # The optimised integration appends the execution's and the state machine's ARNs.
        assert bridge.list_events()[0]["resources"] == [out["executionArn"], SM + "m"]
        listed = await engine.list_executions(stateMachineArn=SM + "target")
        [execution] = listed["executions"]
        history = await engine.get_execution_history(executionArn=execution["executionArn"])
        started = json.loads(history["events"][0]["executionStartedEventDetails"]["input"])
        assert started["detail"] == {"total": 20} and started["source"] == "shop"
        bad = await _run(engine, definition, {"e": [entries[0], {"DetailType": "x", "Detail": {}}]})
        assert bad["error"] == "EventBridge.FailedEntry"
        cause = json.loads(bad["cause"])
        assert cause["FailedEntryCount"] == 1
        assert cause["Entries"][1] == {
            "ErrorCode": "InvalidArgument",
            "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument.",
        }
        await engine.aclose()

    asyncio.run(go())


# -- Glue


def test_glue_jobs(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    def etl(args: dict[str, str], context: glue.JobContext) -> None:
        seen.append(args)
        if args.get("fail") == "yes":
            raise ValueError("bad input")

    async def go() -> None:
        engine = _engine(tmp_path)
        glue.register_job("etl", etl, engine.integrations)
        sync = _task(
            "arn:aws:states:::glue:startJobRun.sync", {"JobName": "etl", "Arguments": {"--day.$": "$.d"}}
        )
        out = await _run(engine, sync, {"d": "mon"})
        run = json.loads(out["output"])
        assert run["JobRunState"] == "SUCCEEDED" and run["Arguments"] == {"--day": "mon"}
        assert seen == [{"day": "mon"}]
        history = (await engine.get_execution_history(executionArn=out["executionArn"]))["events"]
        [submitted] = [e for e in history if e["type"] == "TaskSubmitted"]
        assert json.loads(submitted["taskSubmittedEventDetails"]["output"])["JobRunId"] == run["Id"]
        failed = await _run(
            engine,
            _task(
                "arn:aws:states:::glue:startJobRun.sync", {"JobName": "etl", "Arguments": {"--fail": "yes"}}
            ),
        )
        assert failed["error"] == "States.TaskFailed"
        assert json.loads(failed["cause"])["ErrorMessage"] == "ValueError: bad input"
        started = await _run(engine, _task("arn:aws:states:::glue:startJobRun", {"JobName": "etl"}))
        run_id = json.loads(started["output"])["JobRunId"]
        await asyncio.sleep(0.05)
        got = await _run(
            engine, _task("arn:aws:states:::aws-sdk:glue:getJobRun", {"JobName": "etl", "RunId": run_id})
        )
        assert json.loads(got["output"])["JobRun"]["JobRunState"] == "SUCCEEDED"
        unknown = await _run(engine, _task("arn:aws:states:::glue:startJobRun", {"JobName": "nope"}))
        assert unknown["error"] == "Glue.EntityNotFoundException"
        await engine.aclose()

    asyncio.run(go())


# -- CLI


def test_cli_queues_topics_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ["--data-dir", str(tmp_path)]

    def cli(*args: str) -> Any:
        assert main([*args[:2], *d, *args[2:]]) == 0
        return json.loads(capsys.readouterr().out)

    url = cli("queues", "create", "work")["QueueUrl"]
    assert cli("queues", "list")["QueueUrls"] == [url]
    cli("queues", "send", "work", "hi")
    arn = cli("topics", "create", "t")["TopicArn"]
    cli("topics", "subscribe", arn, "sqs", url, "--raw")
    cli("topics", "publish", "t", "via-topic")
    bodies = [m["Body"] for m in cli("queues", "receive", url, "--delete")["Messages"]]
    assert bodies == ["hi", "via-topic"]
    assert cli("queues", "purge", "work") == {"Purged": 0}
    cli("events", "put-rule", "r", '{"source": ["s"]}')
    assert cli("events", "list-rules")["Rules"][0]["Name"] == "r"
    assert cli("events", "list") == {"Events": []}
    assert main(["queues", "send", *d, "missing", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
