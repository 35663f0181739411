"""StartExecution-to-SUCCEEDED latency through the HTTP API, with boto3.

Usage (from the repository root, with .venv made):

    .venv/bin/python bench/api_latency.py [--executions 1000] [--data-dir DIR]

Starts `legato serve` on a free loopback port (with a durable SQLite store in a
temporary directory unless --memory), creates a one-state Standard machine, and
for each execution measures the time from calling StartExecution until
DescribeExecution first reports SUCCEEDED (polling as a client would, every
millisecond). Prints the median and the 99th percentile. This is a benchmark,
not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("legato serve did not start")


def main(argv: list[str] | None = None) -> int:
    """Runs the measurement and prints the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--data-dir", help="keep the store here (default: a temporary directory)")
    args = parser.parse_args(argv)

    import boto3
    from botocore.config import Config

    port = _free_port()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="legato-bench-")
    legato = str(ROOT / ".venv" / "bin" / "legato")
    server = subprocess.Popen(
        [legato, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_port(port, time.monotonic() + 30)
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
        )
        arn = sfn.create_state_machine(
            name="latency",
            definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
            roleArn="arn:aws:iam::123456789012:role/bench",
        )["stateMachineArn"]
        samples: list[float] = []
        for i in range(args.executions):
            t0 = time.perf_counter()
            ex = sfn.start_execution(stateMachineArn=arn, name=f"e{i}", input=f'{{"i": {i}}}')["executionArn"]
            while sfn.describe_execution(executionArn=ex)["status"] != "SUCCEEDED":
                time.sleep(0.001)
            samples.append(time.perf_counter() - t0)
        samples.sort()
        median = statistics.median(samples)
        p99 = samples[min(len(samples) - 1, round(0.99 * len(samples)) - 1)]
        print(f"executions: {len(samples)}  store: {data_dir}")
        print(f"StartExecution -> SUCCEEDED: median {median * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
