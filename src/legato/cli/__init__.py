"""The ``legato`` command: ``run``, ``validate``, ``serve`` and ``demo``.

Every command is a thin layer over :class:`legato.engine.Engine` and
``legato.asl``. Bad input (a missing file, malformed JSON, an invalid
definition, a bad option) is reported as one line on stderr with exit status 2,
never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from legato.cli._common import UsageError
from legato.errors import LegatoError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="legato", description="Run AWS Step Functions workflows on your own machine.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a state machine once and print its output")
    run.add_argument("file", help="the definition (JSON or YAML)")
    run.add_argument("--input", help="the execution input: JSON text, or @FILE")
    run.add_argument("--functions", help="a Python file registering Lambda functions")
    run.add_argument("--clock", choices=("virtual", "system"), default="virtual", help="default: virtual")
    run.add_argument("--json", action="store_true", help="print {status, output, error, cause} as JSON")
    run.add_argument("--trace", action="store_true", help="print each state entered and left, with timings")
    run.add_argument(
        "--progress-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="when standard error is not a terminal, how often a Map Run's progress line is printed "
        "(default: 5)",
    )
    run.add_argument(
        "--executor",
        metavar="EXECUTOR",
        help="where Distributed Map children run: inprocess (default), dask-local (a local Dask cluster) "
        "or dask://HOST:PORT (see docs/distributed-map.md)",
    )

    validate = sub.add_parser("validate", help="check definitions and print their diagnostics")
    validate.add_argument("files", nargs="+", metavar="FILE")

    serve = sub.add_parser("serve", help="serve the Step Functions API (AWS JSON 1.0) over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8083)
    serve.add_argument("--data-dir", help="where Legato keeps its data (created if missing)")
    serve.add_argument(
        "--sync",
        choices=("normal", "full"),
        default="normal",
        help="with --data-dir, SQLite's synchronous setting: full survives a power cut without "
        "losing the last commits (default: normal)",
    )
    serve.add_argument("--functions", help="a Python file registering Lambda functions")
    serve.add_argument(
        "--integrations",
        metavar="FILE",
        help="service integration settings (JSON or YAML): endpoints, connections (see docs/integrations.md)",
    )
    serve.add_argument(
        "--jobs", metavar="FILE", help="a Python file whose GLUE_JOBS registers Glue jobs (see docs/glue.md)"
    )
    serve.add_argument(
        "--mock-config",
        metavar="FILE",
        help="Step Functions Local's MockConfigFile: start executions with ARN#TestCase to use mocked "
        "responses (default: $SFN_MOCK_CONFIG; see docs/mocking.md)",
    )
    serve.add_argument("--clock", choices=("system", "virtual"), default="system", help="default: system")
    serve.add_argument(
        "--executor",
        metavar="EXECUTOR",
        help="where Distributed Map children run: inprocess (default), dask-local (a local Dask cluster) "
        "or dask://HOST:PORT (see docs/distributed-map.md)",
    )
    serve.add_argument("--region", default="us-east-1")
    serve.add_argument("--account", default="123456789012")
    serve.add_argument(
        "--credentials",
        metavar="FILE",
        help="require SigV4-signed requests made with these access keys (JSON or INI; see docs/api.md); "
        "needed to listen on any address but loopback",
    )

    demo = sub.add_parser("demo", help="run a bundled example: hello (default) or aggregator")
    demo.add_argument("workflow", nargs="?", choices=("hello", "aggregator"), default="hello")
    demo.add_argument("--trace", action="store_true", help="hello: print each state entered and left")
    from legato.cli.demo import add_aggregator_arguments

    add_aggregator_arguments(demo)
    from legato.cli.queues import add_parsers as add_messaging_parsers

    add_messaging_parsers(sub)
    from legato.cli.connections import add_parser as add_connections_parser

    add_connections_parser(sub)
    from legato.cli.buckets import add_parser as add_buckets_parser

    add_buckets_parser(sub)
    from legato.cli.executions import add_parser as add_executions_parser

    add_executions_parser(sub)
    from legato.cli.graph import add_graph_parser

    add_graph_parser(sub)
    from legato.cli.tables import add_parser as add_tables_parser

    add_tables_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``legato`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            from legato.cli.run import run_command

            return run_command(args)
        if args.command == "validate":
            from legato.cli.validate import validate_command

            return validate_command(args.files)
        if args.command == "serve":
            from legato.cli.serve import serve_command

            return serve_command(args)
        if args.command in ("queues", "topics", "events"):
            from legato.cli.queues import messaging_command

            return messaging_command(args)
        if args.command == "buckets":
            from legato.cli.buckets import buckets_command

            return buckets_command(args)
        if args.command == "connections":
            from legato.cli.connections import connections_command

            return connections_command(args)
        if args.command == "tables":
            from legato.cli.tables import tables_command

            return tables_command(args)
        if args.command == "executions":
            from legato.cli.executions import executions_command

            return executions_command(args)
        if args.command == "graph":
            from legato.cli.graph import graph_command

            return graph_command(args)
        if args.command == "demo" and args.workflow == "aggregator":
            from legato.cli.demo import aggregator_command

            return aggregator_command(args)
        if args.command == "demo":
            from legato.cli.run import demo_command

            return demo_command(args)
        parser.print_help(sys.stderr)
        return 2
    except (UsageError, LegatoError) as exc:
        print(f"legato: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug in Legato: still one line; LEGATO_DEBUG=1 shows the traceback
        if os.environ.get("LEGATO_DEBUG"):
            raise
        print(
            f"legato: internal error: {type(exc).__name__}: {exc} (set LEGATO_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
