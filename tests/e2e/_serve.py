"""A ``legato serve`` subprocess for the end-to-end tests: started, killed (SIGKILL by
process group, as a crash), restarted on the same data directory, stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LEGATO = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "legato"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """``legato serve --host 127.0.0.1 --port PORT ARGS...``, restartable on one port."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.args = list(args)
        self.env = dict(env or {})
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts the server and waits until it listens."""
        self.proc = subprocess.Popen(
            [str(LEGATO), "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args],
            env=dict(os.environ, **self.env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                assert self.proc.poll() is None, "legato serve exited at start"
                time.sleep(0.05)
        raise AssertionError("legato serve did not start listening")

    def kill(self) -> None:
        """SIGKILL to the server's process group: a crash."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end within 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def client(port: int) -> Any:
    """A boto3 Step Functions client for the server on ``port`` (no retries, short timeouts)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "stepfunctions",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            inject_host_prefix=False, retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10
        ),
    )
