"""``legato connections create|list|delete``: the connections HTTP Tasks authorise with.

Connections made here are kept as ``DIR/connections/NAME.json`` under ``--data-dir``,
so that ``legato serve --data-dir DIR`` finds them; those of an integrations file
(``--integrations FILE``) are listed too. Secrets are never written: a connection
names the environment variable or file that holds each one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from legato import _json
from legato.cli._common import UsageError
from legato.integrations.connections import (
    AUTHORIZATION_TYPES,
    ConnectionConfigError,
    ConnectionStore,
    parse_connection,
)


def add_parser(sub: Any) -> None:
    """Adds ``connections`` and its subcommands to the ``legato`` parser."""
    parser = sub.add_parser("connections", help="create, list and delete connections for HTTP Tasks")
    commands = parser.add_subparsers(
        dest="connections_command", metavar="SUBCOMMAND", parser_class=type(parser)
    )

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="where Legato keeps its data (as for legato serve)")
        p.add_argument(
            "--integrations", metavar="FILE", help="an integrations file whose connections to include"
        )
        p.add_argument("--region", default="us-east-1")
        p.add_argument("--account", default="123456789012")

    create = commands.add_parser("create", help="create a connection (prints its ARN)")
    create.add_argument("name")
    create.add_argument("--authorization-type", required=True, choices=AUTHORIZATION_TYPES)
    create.add_argument("--description")
    create.add_argument("--api-key-name", help="API_KEY: the header that carries the key")
    create.add_argument("--api-key-value-env", metavar="VAR", help="API_KEY: the variable holding the key")
    create.add_argument("--api-key-value-file", metavar="FILE", help="API_KEY: the file holding the key")
    create.add_argument("--username", help="BASIC: the user name")
    create.add_argument("--username-env", metavar="VAR")
    create.add_argument("--password-env", metavar="VAR", help="BASIC: the variable holding the password")
    create.add_argument("--password-file", metavar="FILE", help="BASIC: the file holding the password")
    create.add_argument("--authorization-endpoint", metavar="URL", help="OAUTH_CLIENT_CREDENTIALS: token URL")
    create.add_argument("--http-method", default="POST", choices=("GET", "POST", "PUT"))
    create.add_argument("--client-id")
    create.add_argument("--client-id-env", metavar="VAR")
    create.add_argument("--client-secret-env", metavar="VAR")
    create.add_argument("--client-secret-file", metavar="FILE")
    for flag, what in (("header", "header"), ("query", "query-string parameter"), ("body", "body parameter")):
        create.add_argument(
            f"--{flag}",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"a {what} added to every request; VALUE @env:VAR or @file:PATH makes it a secret",
        )
        create.add_argument(
            f"--oauth-{flag}",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"a {what} of the OAuth token request (same VALUE forms)",
        )
    create.add_argument("--max-concurrency", type=int, help="at most N requests in flight (beyond AWS)")
    create.add_argument(
        "--max-requests-per-second", type=float, metavar="R", help="at most R requests a second (beyond AWS)"
    )
    common(create)

    listing = commands.add_parser("list", help="list connections (secrets show only where they come from)")
    listing.add_argument("--json", action="store_true", help="print the connections as JSON")
    common(listing)

    delete = commands.add_parser("delete", help="delete a connection made with 'connections create'")
    delete.add_argument("name")
    common(delete)


def _store(args: argparse.Namespace, need_dir: bool) -> ConnectionStore:
    from legato.errors import LegatoError
    from legato.integrations.settings import load_settings

    if need_dir and not args.data_dir:
        raise UsageError("connections are kept under the data directory: pass --data-dir DIR")
    try:
        settings = load_settings(args.integrations, args.data_dir)
        directory = Path(args.data_dir) / "connections" if args.data_dir else None
        return ConnectionStore(settings.sections.get("connections"), directory)
    except LegatoError as exc:
        raise UsageError(str(exc)) from None


def _parameter(text: str, flag: str) -> dict[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--{flag} takes KEY=VALUE, not {text!r}")
    if value.startswith("@env:"):
        return {"key": key, "value_env": value[5:], "is_value_secret": True}
    if value.startswith("@file:"):
        return {"key": key, "value_file": value[6:], "is_value_secret": True}
    return {"key": key, "value": value}


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    spec: dict[str, Any] = {"authorization_type": args.authorization_type}
    simple = (
        "description",
        "api_key_name",
        "api_key_value_env",
        "api_key_value_file",
        "username",
        "username_env",
        "password_env",
        "password_file",
        "authorization_endpoint",
        "client_id",
        "client_id_env",
        "client_secret_env",
        "client_secret_file",
        "max_concurrency",
        "max_requests_per_second",
    )
    for key in simple:
        value = getattr(args, key)
        if value is not None:
            spec[key] = value
    if args.authorization_type == "OAUTH_CLIENT_CREDENTIALS":
        spec["http_method"] = args.http_method
    for prefix, target in (("", "invocation_http_parameters"), ("oauth_", "oauth_http_parameters")):
        params: dict[str, Any] = {}
        for flag, key in (
            ("header", "header_parameters"),
            ("query", "query_string_parameters"),
            ("body", "body_parameters"),
        ):
            rows = [_parameter(t, f"{prefix.replace('_', '-')}{flag}") for t in getattr(args, prefix + flag)]
            if rows:
                params[key] = rows
        if params:
            spec[target] = params
    return spec


def connections_command(args: argparse.Namespace) -> int:
    """Runs ``legato connections SUBCOMMAND``; returns the exit status."""
    command = args.connections_command
    if command is None:
        raise UsageError("connections needs a subcommand: create, list or delete")
    try:
        if command == "create":
            store = _store(args, need_dir=True)
            conn = store.create(parse_connection(args.name, _spec(args), source="cli"))
            print(conn.arn(args.region, args.account))
            return 0
        if command == "delete":
            _store(args, need_dir=True).delete(args.name)
            return 0
        store = _store(args, need_dir=False)
        connections = store.list()
        if args.json:
            rows = [
                {**c.to_dict(), "arn": c.arn(args.region, args.account), "source": c.source}
                for c in connections
            ]
            print(_json.dumps(rows))
            return 0
        for c in connections:
            print(f"{c.name}\t{c.authorization_type}\t{c.source}\t{c.arn(args.region, args.account)}")
        if not connections:
            print("no connections", file=sys.stderr)
        return 0
    except ConnectionConfigError as exc:
        raise UsageError(str(exc)) from None
