"""``legato serve``: the HTTP API on a loopback address."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys
from pathlib import Path

from legato.cli._common import UsageError, load_functions
from legato.runtime.clock import Clock, SystemClock, VirtualClock


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_command(args: argparse.Namespace) -> int:
    """Serves until SIGINT or SIGTERM."""
    from legato.api.server import serve
    from legato.engine import Engine

    if not is_loopback(args.host):
        raise UsageError(
            f"refusing to listen on {args.host}: serving beyond this machine needs credentials "
            "(SigV4 with configured keys), which Legato does not support yet; use 127.0.0.1"
        )
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.data_dir is not None:
        try:
            Path(args.data_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --data-dir {args.data_dir}: {exc}") from None
    functions = load_functions(args.functions)
    clock: Clock = VirtualClock() if args.clock == "virtual" else SystemClock()
    engine = Engine(clock=clock, functions=functions, region=args.region, account=args.account)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def ready(url: str) -> None:
        print(f"Legato listening on {url} (clock: {args.clock})", file=sys.stderr, flush=True)

    try:
        asyncio.run(serve(engine, args.host, args.port, ready=ready))
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0
