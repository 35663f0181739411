"""``legato serve``: the HTTP API, on a loopback address unless requests must be signed."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import Any

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
    from legato.api.auth import CredentialsError, SigV4Verifier, load_credentials
    from legato.api.server import serve
    from legato.engine import Engine

    credentials_file = getattr(args, "credentials", None)
    if credentials_file is None and not is_loopback(args.host):
        raise UsageError(
            f"refusing to listen on {args.host}: serving beyond this machine needs credentials, since "
            "anyone who can reach it could run workflows; pass --credentials FILE (requests must then "
            "be SigV4-signed with those keys) or listen on 127.0.0.1"
        )
    verifier = None
    if credentials_file is not None:
        try:
            keys = load_credentials(credentials_file)
        except CredentialsError as exc:
            raise UsageError(str(exc)) from None
        verifier = SigV4Verifier(keys, region=args.region)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.data_dir is not None:
        try:
            Path(args.data_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --data-dir {args.data_dir}: {exc}") from None
    functions = load_functions(args.functions)
    clock: Clock = VirtualClock() if args.clock == "virtual" else SystemClock()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = None
    if args.data_dir is not None:
        from legato.store.sqlite import SqliteStore

        store = SqliteStore(args.data_dir, synchronous=getattr(args, "sync", None) or "normal")
    from legato.errors import LegatoError
    from legato.integrations.settings import load_settings

    try:
        settings = load_settings(getattr(args, "integrations", None), args.data_dir)
    except LegatoError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "jobs", None) is not None:
        from legato.integrations.glue import load_jobs_file

        try:
            load_jobs_file(args.jobs, settings)
        except LegatoError as exc:
            raise UsageError(str(exc)) from None
    mock_config = _mock_config(getattr(args, "mock_config", None))
    executor = map_executor(getattr(args, "executor", None), args.functions)
    engine = Engine(
        clock=clock,
        functions=functions,
        region=args.region,
        account=args.account,
        store=store,
        integrations=settings,
    )

    if executor is not None:
        from legato.maprun.executors import install_executor

        install_executor(engine.services, executor)
    if mock_config is not None:
        from legato.runtime.mocks import install

        install(engine.services, mock_config)

    def ready(url: str) -> None:
        auth = "" if verifier is None else f", SigV4 with {len(verifier.credentials)} access key(s)"
        print(f"Legato listening on {url} (clock: {args.clock}{auth})", file=sys.stderr, flush=True)

    async def main() -> None:
        try:
            resumed = await engine.recover()  # executions a previous process left running
            if resumed:
                logging.getLogger("legato.engine").info("resumed %d running executions", resumed)
            await serve(engine, args.host, args.port, ready=ready, verifier=verifier)
        finally:
            await engine.aclose()
            await engine.store.aclose()
            if executor is not None:
                await executor.aclose()

    try:
        asyncio.run(main())
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def map_executor(option: str | None, functions: str | None) -> Any:
    """The Distributed Map executor of ``--executor`` (None: in process)."""
    if option is None:
        return None
    from legato.maprun.executors import executor_from_option

    try:
        return executor_from_option(option, str(Path(functions).resolve()) if functions else None)
    except (ValueError, RuntimeError) as exc:
        raise UsageError(f"--executor: {exc}") from None


def _mock_config(path: str | None) -> Any:
    """The mock configuration of ``--mock-config`` or ``$SFN_MOCK_CONFIG`` (as Step Functions Local reads it)."""
    path = path or os.environ.get("SFN_MOCK_CONFIG") or None
    if path is None:
        return None
    from legato.errors import LegatoError
    from legato.runtime.mocks import load_mock_config

    try:
        return load_mock_config(path)
    except LegatoError as exc:
        raise UsageError(str(exc)) from None
