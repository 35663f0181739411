"""``legato buckets``: create, list and fill the embedded S3 store's buckets.

The commands work on the data directory's files directly (``DATA_DIR/s3/BUCKET/KEY``),
so they can run while ``legato serve --data-dir DATA_DIR`` does.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from legato.cli._common import UsageError

__all__ = ["add_parser", "buckets_command"]


def add_parser(sub: Any) -> None:
    """Adds ``legato buckets`` and its subcommands to the ``legato`` parser."""
    buckets = sub.add_parser("buckets", help="create, list and fill the embedded S3 buckets")
    buckets.add_argument(
        "--data-dir", help="the server's --data-dir (default: $LEGATO_DATA_DIR)", default=None
    )
    cmds = buckets.add_subparsers(dest="buckets_command", metavar="SUBCOMMAND")
    create = cmds.add_parser("create", help="make a bucket")
    create.add_argument("bucket")
    cmds.add_parser("list", help="list the buckets")
    ls = cmds.add_parser("ls", help="list the objects under s3://BUCKET[/PREFIX]")
    ls.add_argument("location", metavar="s3://BUCKET[/PREFIX]")
    ls.add_argument("--delimiter", default="", help="group keys into common prefixes (e.g. /)")
    put = cmds.add_parser("put", help="upload a file (- for stdin) as s3://BUCKET/KEY")
    put.add_argument("file")
    put.add_argument("location", metavar="s3://BUCKET/KEY")
    put.add_argument("--content-type", default=None)
    get = cmds.add_parser("get", help="print s3://BUCKET/KEY, or write it to FILE")
    get.add_argument("location", metavar="s3://BUCKET/KEY")
    get.add_argument("file", nargs="?")
    rm = cmds.add_parser("rm", help="delete s3://BUCKET/KEY, or the empty bucket s3://BUCKET")
    rm.add_argument("location", metavar="s3://BUCKET[/KEY]")


def _split(location: str) -> tuple[str, str]:
    text = location[5:] if location.startswith("s3://") else location
    bucket, _, key = text.partition("/")
    if not bucket:
        raise UsageError(f"expected s3://BUCKET/KEY, not {location!r}")
    return bucket, key


def buckets_command(args: argparse.Namespace) -> int:
    """Runs one ``legato buckets`` subcommand."""
    from legato.integrations._s3store import ObjectStore
    from legato.integrations.aws_sdk import AwsServiceError

    data_dir = args.data_dir or os.environ.get("LEGATO_DATA_DIR")
    if not data_dir:
        raise UsageError("legato buckets needs --data-dir DIR (the server's) or $LEGATO_DATA_DIR")
    if args.buckets_command is None:
        raise UsageError("legato buckets needs a subcommand: create, list, ls, put, get or rm")
    store = ObjectStore(Path(data_dir) / "s3")
    try:
        return _run(store, args)
    except AwsServiceError as exc:
        print(f"legato: error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1


def _run(store: Any, args: argparse.Namespace) -> int:
    from legato.integrations.aws_sdk import sdk_timestamp

    command = args.buckets_command
    if command == "create":
        if not store.create_bucket(args.bucket):
            print(f"bucket {args.bucket} already exists", file=sys.stderr)
        return 0
    if command == "list":
        for b in store.buckets():
            print(f"{sdk_timestamp(b.created)}  {b.name}")
        return 0
    if command == "ls":
        bucket, prefix = _split(args.location)
        after = ""
        while True:
            page = store.list(bucket, prefix=prefix, delimiter=args.delimiter, after=after, max_keys=1000)
            for p in page.common_prefixes:
                print(f"{'PRE':>30}  {p}")
            for info in page.contents:
                print(f"{sdk_timestamp(info.last_modified)}  {info.size:>9}  {info.key}")
            if not page.truncated or page.next_marker is None:
                return 0
            after = page.next_marker
    if command == "put":
        bucket, key = _split(args.location)
        if not key:
            raise UsageError("put needs s3://BUCKET/KEY")
        try:
            data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
        info = store.put(bucket, key, data, content_type=args.content_type)
        print(info.etag)
        return 0
    if command == "get":
        bucket, key = _split(args.location)
        _, data = store.read(bucket, key)
        if args.file:
            Path(args.file).write_bytes(data)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return 0
    bucket, key = _split(args.location)  # rm
    if key:
        store.delete(bucket, key)
    else:
        store.delete_bucket(bucket)
    return 0
