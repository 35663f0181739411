"""``legato executions list|describe|history|watch``: executions of a running server.

These commands talk to ``legato serve`` (or AWS, or anything speaking the Step
Functions API) through boto3, so they work on any server the endpoint reaches.
``watch`` shows a live progress bar per Map Run of the execution until it ends.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from typing import Any

from legato import _json
from legato.cli._common import UsageError
from legato.cli.progress import ProgressBoard

__all__ = ["add_parser", "executions_command", "watch"]

_ENDPOINT_HELP = "the Step Functions endpoint (default: $LEGATO_ENDPOINT or http://127.0.0.1:8083)"


def add_parser(sub: Any) -> None:
    """Adds ``legato executions`` and its subcommands to the ``legato`` parser."""
    parser = sub.add_parser("executions", help="list, describe and watch the executions of a server")
    commands = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    commands.required = True

    listing = commands.add_parser("list", help="the executions of a state machine, newest first")
    listing.add_argument("state_machine_arn", metavar="STATE_MACHINE_ARN")
    listing.add_argument(
        "--status", help="only RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE"
    )
    describe = commands.add_parser("describe", help="DescribeExecution of one execution")
    describe.add_argument("arn", metavar="ARN")
    history = commands.add_parser("history", help="the history events of one execution")
    history.add_argument("arn", metavar="ARN")
    watch_cmd = commands.add_parser("watch", help="a live progress bar per Map Run until the execution ends")
    watch_cmd.add_argument("arn", metavar="ARN")
    watch_cmd.add_argument(
        "--interval", type=float, default=5.0, help="seconds between lines when not a terminal"
    )
    watch_cmd.add_argument("--poll", type=float, default=0.5, help="seconds between two polls of the server")
    watch_cmd.add_argument("--json", action="store_true", help="no progress: print the final state as JSON")
    for command in (listing, describe, history, watch_cmd):
        command.add_argument("--endpoint", help=_ENDPOINT_HELP)


def _client(endpoint: str | None) -> Any:
    from legato.client import DEFAULT_ENDPOINT, client

    return client(endpoint or os.environ.get("LEGATO_ENDPOINT") or DEFAULT_ENDPOINT)


def _plain(value: Any) -> Any:
    """boto3's response with its datetimes as ISO 8601 text, ready for JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _print(value: Any) -> None:
    print(_json.dumps(_plain(value)))


def _pages(call: Any, key: str, **request: Any) -> list[Any]:
    items: list[Any] = []
    while True:
        page = call(**request)
        items.extend(page[key])
        token = page.get("nextToken")
        if not token:
            return items
        request["nextToken"] = token


def _map_runs(sfn: Any, arn: str) -> list[dict[str, Any]]:
    runs = _pages(sfn.list_map_runs, "mapRuns", executionArn=arn)
    return [_plain(sfn.describe_map_run(mapRunArn=run["mapRunArn"])) for run in runs]


def watch(
    sfn: Any,
    arn: str,
    board: ProgressBoard | None,
    *,
    poll: float = 0.5,
    sleep: Any = time.sleep,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Polls DescribeExecution, ListMapRuns and DescribeMapRun until the execution ends,
    feeding ``board``; returns the final DescribeExecution and DescribeMapRun responses."""
    while True:
        execution: dict[str, Any] = _plain(sfn.describe_execution(executionArn=arn))
        runs = _map_runs(sfn, arn)
        ended = execution["status"] != "RUNNING"
        if board is not None:
            board.update(runs, final=ended)
        if ended:
            return execution, runs
        sleep(poll)


def executions_command(args: argparse.Namespace) -> int:
    """Runs ``legato executions ACTION``; the exit status of ``watch`` is 0 when the
    execution succeeded, 1 when it did not."""
    from botocore.exceptions import BotoCoreError, ClientError

    sfn = _client(args.endpoint)
    try:
        if args.action == "list":
            request: dict[str, Any] = {"stateMachineArn": args.state_machine_arn}
            if args.status:
                request["statusFilter"] = args.status
            _print(_pages(sfn.list_executions, "executions", **request))
            return 0
        if args.action == "describe":
            _print(sfn.describe_execution(executionArn=args.arn))
            return 0
        if args.action == "history":
            _print(_pages(sfn.get_execution_history, "events", executionArn=args.arn))
            return 0
        board = None if args.json else ProgressBoard(sys.stdout, interval=args.interval)
        execution, runs = watch(sfn, args.arn, board, poll=args.poll)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(f"{error.get('Code', 'Error')}: {error.get('Message', '')}") from None
    except BotoCoreError as exc:
        raise UsageError(str(exc)) from None
    status = execution["status"]
    if args.json:
        _print({"execution": execution, "mapRuns": runs})
    else:
        print(status if status == "SUCCEEDED" else f"{status}: {execution.get('error') or '(no error)'}")
    return 0 if status == "SUCCEEDED" else 1
