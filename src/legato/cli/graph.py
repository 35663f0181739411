"""``legato graph FILE -o OUT.svg|OUT.png [--execution ARN --endpoint URL]``: draw a state machine.

With ``--execution``, the execution's history is read from a Step Functions
endpoint (``legato serve`` or AWS) with boto3, and each state is coloured by what
happened to it. Without FILE, the definition is read from the execution too.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from legato.cli._common import UsageError, read_text

__all__ = ["add_graph_parser", "graph_command"]

_FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}


def add_graph_parser(sub: Any) -> None:
    """Adds the ``graph`` subcommand to the ``legato`` parser's subparsers."""
    graph = sub.add_parser(
        "graph", help="draw a state machine (SVG or PNG), optionally coloured by an execution"
    )
    graph.add_argument("file", nargs="?", help="the definition (JSON or YAML); default: the execution's")
    graph.add_argument("-o", "--output", required=True, metavar="OUT", help="OUT.svg, OUT.png or OUT.dot")
    graph.add_argument("--execution", metavar="ARN", help="colour each state by this execution's history")
    graph.add_argument(
        "--endpoint",
        metavar="URL",
        help="the Step Functions endpoint holding the execution (e.g. http://127.0.0.1:8083); default: AWS",
    )


def _client(arn: str, endpoint: str | None) -> Any:
    import boto3

    parts = arn.split(":")
    if len(parts) < 8 or parts[2] != "states":
        raise UsageError(f"--execution: not an execution ARN: {arn}")
    session = boto3.session.Session()
    options: dict[str, Any] = {"region_name": parts[3] or session.region_name or "us-east-1"}
    if endpoint:
        options["endpoint_url"] = endpoint
        if session.get_credentials() is None:
            # A local `legato serve` on loopback accepts any keys.
            options.update(aws_access_key_id="legato", aws_secret_access_key="legato")
    return session.client("stepfunctions", **options)


def fetch_execution(
    arn: str, endpoint: str | None, *, with_definition: bool
) -> tuple[str | None, list[dict[str, Any]]]:
    """The execution's definition (when asked) and its whole history, read with boto3."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client(arn, endpoint)
    try:
        definition = None
        if with_definition:
            definition = client.describe_state_machine_for_execution(executionArn=arn)["definition"]
        events: list[dict[str, Any]] = []
        for page in client.get_paginator("get_execution_history").paginate(executionArn=arn):
            events.extend(page["events"])
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(
            f"--execution {arn}: {error.get('Code', 'error')}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise UsageError(f"--execution {arn}: {exc}") from None
    return definition, events


def graph_command(args: argparse.Namespace) -> int:
    """Writes the diagram to ``args.output`` in the format its suffix names; returns 0."""
    from legato.graph import render_dot, render_png, render_svg

    out = Path(args.output)
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"-o {out}: the file name must end in .svg, .png or .dot")
    if args.file is None and args.execution is None:
        raise UsageError("give a definition FILE, or --execution ARN to draw that execution's state machine")
    if args.endpoint and not args.execution:
        raise UsageError("--endpoint needs --execution")
    definition = read_text(args.file, "definition file") if args.file is not None else None
    history = None
    if args.execution:
        fetched, history = fetch_execution(args.execution, args.endpoint, with_definition=definition is None)
        definition = definition if definition is not None else fetched
    assert definition is not None
    if fmt == "svg":
        data = render_svg(definition, history=history).encode("utf-8")
    elif fmt == "png":
        data = render_png(definition, history=history)
    else:
        data = render_dot(definition, history=history).encode("utf-8")
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    return 0
