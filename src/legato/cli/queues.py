"""``legato queues``, ``legato topics`` and ``legato events``: the embedded SQS, SNS and
EventBridge data of a data directory (the one ``legato serve --data-dir`` uses).

Each command opens the messaging store directly, so it works while a server runs.
Results are printed as JSON.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from legato import _json
from legato.cli._common import UsageError, read_text
from legato.errors import LegatoError

__all__ = ["add_parsers", "messaging_command"]

COMMANDS = ("queues", "topics", "events")


def add_parsers(sub: Any) -> None:
    """Adds the ``queues``, ``topics`` and ``events`` commands to the ``legato`` parser."""

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", required=True, help="the data directory of legato serve")
        p.add_argument("--region", default="us-east-1")
        p.add_argument("--account", default="123456789012")
        return p

    queues = sub.add_parser("queues", help="create, inspect and seed the embedded SQS queues")
    q = queues.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = common(q.add_parser("create", help="create a queue (a name ending .fifo makes a FIFO queue)"))
    p.add_argument("name")
    p.add_argument("--attribute", action="append", default=[], metavar="KEY=VALUE")
    common(q.add_parser("list", help="list the queues' URLs"))
    p = common(q.add_parser("send", help="send a message"))
    p.add_argument("queue", help="the queue's URL or name")
    p.add_argument("body")
    p.add_argument("--group-id")
    p.add_argument("--deduplication-id")
    p.add_argument("--delay", type=int)
    p = common(q.add_parser("receive", help="receive (and with --delete, delete) messages"))
    p.add_argument("queue")
    p.add_argument("--max", type=int, default=10)
    p.add_argument("--delete", action="store_true", help="delete what was received")
    p = common(q.add_parser("purge", help="delete every message of a queue"))
    p.add_argument("queue")
    p = common(q.add_parser("delete", help="delete a queue"))
    p.add_argument("queue")
    p = common(q.add_parser("attributes", help="a queue's attributes and message counts"))
    p.add_argument("queue")

    topics = sub.add_parser("topics", help="create and inspect the embedded SNS topics")
    t = topics.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = common(t.add_parser("create", help="create a topic"))
    p.add_argument("name")
    common(t.add_parser("list", help="list the topics' ARNs"))
    p = common(t.add_parser("subscribe", help="subscribe a queue (sqs) or an HTTP endpoint"))
    p.add_argument("topic", help="the topic's ARN or name")
    p.add_argument("protocol", choices=("sqs", "http", "https"))
    p.add_argument("endpoint", help="a queue ARN or URL, or an HTTP URL")
    p.add_argument("--raw", action="store_true", help="RawMessageDelivery")
    p = common(t.add_parser("subscriptions", help="list subscriptions"))
    p.add_argument("topic", nargs="?")
    p = common(t.add_parser("publish", help="publish a message"))
    p.add_argument("topic")
    p.add_argument("message")
    p.add_argument("--subject")
    p.add_argument("--group-id")
    p = common(t.add_parser("messages", help="the messages published to a topic"))
    p.add_argument("topic")
    p = common(t.add_parser("delete", help="delete a topic"))
    p.add_argument("topic")

    events = sub.add_parser("events", help="the embedded EventBridge: events put, rules, targets")
    e = events.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = common(e.add_parser("list", help="the events put (newest last)"))
    p.add_argument("--bus")
    p.add_argument("--limit", type=int, default=100)
    p = common(e.add_parser("create-bus", help="create an event bus"))
    p.add_argument("name")
    p = common(e.add_parser("put-rule", help="create or update a rule with an event pattern"))
    p.add_argument("name")
    p.add_argument("pattern", help="the event pattern: JSON text, or @FILE")
    p.add_argument("--bus", default="default")
    p = common(e.add_parser("put-target", help="make a state machine a rule's target"))
    p.add_argument("rule")
    p.add_argument("arn", help="the state machine's ARN")
    p.add_argument("--id", default="1")
    p.add_argument("--input", help="constant input (JSON text) instead of the event")
    p.add_argument("--bus", default="default")
    p = common(e.add_parser("list-rules", help="the rules of a bus with their targets"))
    p.add_argument("--bus", default="default")
    p = common(e.add_parser("delete-rule", help="delete a rule"))
    p.add_argument("name")
    p.add_argument("--bus", default="default")


def _print(value: Any) -> None:
    sys.stdout.write(_json.dumps(value) + "\n")


def _json_arg(text: str, what: str) -> Any:
    raw = read_text(text[1:], what) if text.startswith("@") else text
    try:
        return _json.loads(raw)
    except ValueError:
        raise UsageError(f"{what} is not valid JSON") from None


def messaging_command(args: argparse.Namespace) -> int:
    """Runs one ``queues``/``topics``/``events`` action; errors are one line, exit status 2."""
    from legato.integrations.events import EventBridge
    from legato.integrations.sns import Sns, SnsError
    from legato.integrations.sqs import Sqs, SqsError

    try:
        if args.command == "queues":
            sqs = Sqs.at(args.data_dir, args.region, args.account)
            _queues(sqs, args)
        elif args.command == "topics":
            _topics(Sns.at(args.data_dir, args.region, args.account), args)
        else:
            _events(EventBridge.at(args.data_dir, args.region, args.account), args)
    except (SqsError, SnsError) as exc:
        raise LegatoError(exc.message) from None
    return 0


def _queues(sqs: Any, args: argparse.Namespace) -> None:
    action = args.action
    if action == "create":
        attrs = dict(a.split("=", 1) for a in args.attribute if "=" in a)
        _print({"QueueUrl": sqs.create_queue(args.name, attrs)})
    elif action == "list":
        _print({"QueueUrls": sqs.list_queues()})
    elif action == "send":
        _print(
            sqs.send_message(
                args.queue,
                args.body,
                group_id=args.group_id,
                deduplication_id=args.deduplication_id,
                delay_seconds=args.delay,
            )
        )
    elif action == "receive":
        messages = sqs.receive_message(args.queue, max(1, min(args.max, 10)))
        if args.delete:
            for m in messages:
                sqs.delete_message(args.queue, m["ReceiptHandle"])
        _print({"Messages": messages})
    elif action == "purge":
        _print({"Purged": sqs.purge_queue(args.queue)})
    elif action == "delete":
        sqs.delete_queue(args.queue)
        _print({})
    else:
        _print({"Attributes": sqs.get_queue_attributes(args.queue)})


def _topic_arn(sns: Any, value: str) -> str:
    return value if value.startswith("arn:") else str(sns.topic_arn(value))


def _topics(sns: Any, args: argparse.Namespace) -> None:
    action = args.action
    if action == "create":
        _print({"TopicArn": sns.create_topic(args.name)})
    elif action == "list":
        _print({"Topics": [{"TopicArn": a} for a in sns.list_topics()]})
    elif action == "subscribe":
        arn = sns.subscribe(_topic_arn(sns, args.topic), args.protocol, args.endpoint, raw=args.raw)
        _print({"SubscriptionArn": arn})
    elif action == "subscriptions":
        topic = _topic_arn(sns, args.topic) if args.topic else None
        _print({"Subscriptions": sns.list_subscriptions(topic)})
    elif action == "publish":
        _print(
            sns.publish(
                _topic_arn(sns, args.topic), args.message, subject=args.subject, group_id=args.group_id
            )
        )
    elif action == "messages":
        _print({"Messages": sns.published(_topic_arn(sns, args.topic))})
    else:
        sns.delete_topic(_topic_arn(sns, args.topic))
        _print({})


def _events(bridge: Any, args: argparse.Namespace) -> None:
    action = args.action
    if action == "list":
        _print({"Events": bridge.list_events(args.bus, args.limit)})
    elif action == "create-bus":
        _print({"EventBusArn": bridge.create_event_bus(args.name)})
    elif action == "put-rule":
        _print(
            {"RuleArn": bridge.put_rule(args.name, _json_arg(args.pattern, "the event pattern"), args.bus)}
        )
    elif action == "put-target":
        target: dict[str, Any] = {"Id": args.id, "Arn": args.arn}
        if args.input is not None:
            target["Input"] = _json.dumps(_json_arg(args.input, "--input"))
        bridge.put_targets(args.rule, [target], args.bus)
        _print({"FailedEntryCount": 0, "FailedEntries": []})
    elif action == "list-rules":
        _print({"Rules": bridge.list_rules(args.bus)})
    else:
        bridge.delete_rule(args.name, args.bus)
        _print({})
