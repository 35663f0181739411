"""``legato tables``: create, inspect and seed the embedded DynamoDB tables of a data directory
(the one ``legato serve --data-dir`` uses).

The command opens the tables' SQLite file directly, so it works while a server runs.
Items are read and printed as DynamoDB JSON (``{"id": {"S": "a"}}``), or as plain JSON
(``{"id": "a"}``) with ``--plain``. Results are printed as JSON.
"""

from __future__ import annotations

import argparse
import base64
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from legato import _json
from legato.cli._common import UsageError, read_text

__all__ = ["add_parser", "from_plain", "tables_command", "to_plain"]


def add_parser(sub: Any) -> None:
    """Adds the ``tables`` command to the ``legato`` parser."""

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", required=True, help="the data directory of legato serve")
        p.add_argument("--region", default="us-east-1")
        p.add_argument("--account", default="123456789012")
        return p

    tables = sub.add_parser("tables", help="create, inspect and seed the embedded DynamoDB tables")
    t = tables.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = common(t.add_parser("create", help="create a table: --hash NAME:TYPE [--range NAME:TYPE]"))
    p.add_argument("name")
    p.add_argument(
        "--hash", required=True, metavar="NAME:TYPE", help="the partition key, TYPE one of S, N, B"
    )
    p.add_argument("--range", metavar="NAME:TYPE", help="the sort key, if any")
    common(t.add_parser("list", help="list the table names"))
    p = common(t.add_parser("describe", help="a table's description, item count and size"))
    p.add_argument("name")
    p = common(t.add_parser("put", help="put an item (JSON text or @FILE; a JSON array puts several)"))
    p.add_argument("name")
    p.add_argument("item")
    p.add_argument("--plain", action="store_true", help="the item is plain JSON, not DynamoDB JSON")
    p = common(t.add_parser("get", help="get an item by its key (JSON text)"))
    p.add_argument("name")
    p.add_argument("key")
    p.add_argument("--plain", action="store_true", help="key and item as plain JSON")
    p = common(t.add_parser("scan", help="print every item of a table"))
    p.add_argument("name")
    p.add_argument("--plain", action="store_true", help="print items as plain JSON")
    p.add_argument("--limit", type=int, help="at most this many items")
    p = common(t.add_parser("delete", help="delete a table, or with --key one item"))
    p.add_argument("name")
    p.add_argument("--key", help="the key of the item to delete (JSON text)")
    p.add_argument("--plain", action="store_true", help="the key is plain JSON")


def to_plain(value: dict[str, Any]) -> Any:
    """A DynamoDB JSON value as plain JSON (numbers as int or float, sets as lists)."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "NS":
        return [to_plain({"N": v}) for v in inner]
    if kind == "NULL":
        return None
    if kind == "L":
        return [to_plain(v) for v in inner]
    if kind == "M":
        return {k: to_plain(v) for k, v in inner.items()}
    return inner


def from_plain(value: Any) -> dict[str, Any]:
    """A plain JSON value as DynamoDB JSON."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [from_plain(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: from_plain(v) for k, v in value.items()}}
    if isinstance(value, bytes):
        return {"B": base64.b64encode(value).decode()}
    raise UsageError(f"cannot store {type(value).__name__} in DynamoDB")


def _json_arg(text: str, what: str) -> Any:
    source = read_text(text[1:], f"{what} file") if text.startswith("@") else text
    try:
        return _json.loads(source)
    except ValueError:
        raise UsageError(f"the {what} is not valid JSON") from None


def _item(value: Any, plain: bool, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"the {what} must be a JSON object")
    return {k: from_plain(v) for k, v in value.items()} if plain else value


def _key_spec(spec: str, role: str) -> tuple[dict[str, str], dict[str, str]]:
    name, _, kind = spec.rpartition(":")
    if not name or kind not in ("S", "N", "B"):
        raise UsageError(f"--{role} takes NAME:TYPE with TYPE one of S, N, B (got {spec!r})")
    key_type = "HASH" if role == "hash" else "RANGE"
    return {"AttributeName": name, "KeyType": key_type}, {"AttributeName": name, "AttributeType": kind}


def tables_command(args: argparse.Namespace) -> int:
    """Runs ``legato tables ACTION``; DynamoDB errors are one line on stderr, status 1."""
    from legato.integrations.dynamodb import DynamoDB, DynamoDBError

    path = Path(args.data_dir) / "dynamodb" / "tables.sqlite"
    db = DynamoDB(path, region=args.region, account=args.account)
    try:
        result = _run(db, args)
    except DynamoDBError as exc:
        print(f"legato: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.close()
    if result is not None:
        print(_json.dumps(result))
    return 0


def _run(db: Any, args: argparse.Namespace) -> Any:
    name = getattr(args, "name", None)
    plain = getattr(args, "plain", False)
    if args.action == "create":
        keys, definitions = zip(
            *[_key_spec(args.hash, "hash")] + ([_key_spec(args.range, "range")] if args.range else []),
            strict=True,
        )
        return db.call(
            "CreateTable",
            {
                "TableName": name,
                "KeySchema": list(keys),
                "AttributeDefinitions": list(definitions),
                "BillingMode": "PAY_PER_REQUEST",
            },
        )["TableDescription"]
    if args.action == "list":
        return db.store.names()
    if args.action == "describe":
        return db.call("DescribeTable", {"TableName": name})["Table"]
    if args.action == "put":
        value = _json_arg(args.item, "item")
        items = value if isinstance(value, list) else [value]
        for item in items:
            db.call("PutItem", {"TableName": name, "Item": _item(item, plain, "item")})
        return {"put": len(items)}
    if args.action == "get":
        key = _item(_json_arg(args.key, "key"), plain, "key")
        found = db.call("GetItem", {"TableName": name, "Key": key}).get("Item")
        if found is None:
            raise UsageError(f"no item with key {args.key} in table {name}")
        return {k: to_plain(v) for k, v in found.items()} if plain else found
    if args.action == "scan":
        out: list[Any] = []
        request: dict[str, Any] = {"TableName": name}
        while True:
            page = db.call("Scan", request)
            out.extend({k: to_plain(v) for k, v in i.items()} if plain else i for i in page["Items"])
            if args.limit is not None and len(out) >= args.limit:
                return out[: args.limit]
            if "LastEvaluatedKey" not in page:
                return out
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    # delete
    if args.key is not None:
        key = _item(_json_arg(args.key, "key"), plain, "key")
        return db.call("DeleteItem", {"TableName": name, "Key": key, "ReturnValues": "ALL_OLD"}).get(
            "Attributes", {}
        )
    db.call("DeleteTable", {"TableName": name})
    return {"deleted": name}
