"""End to end: ``legato serve --data-dir D`` stopped with SIGTERM and started again on
the same directory answers as before, and resumes the execution it left running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

CHAIN = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Pass", "End": True},
    },
}
SLOW = {
    "StartAt": "Sleep",
    "States": {
        "Sleep": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(data_dir: Path, clock: str) -> Iterator[Any]:
    """A boto3 Step Functions client of a ``legato serve`` subprocess, stopped with SIGTERM."""
    port = _free_port()
    cmd = [
        sys.executable,
        "-c",
        "import sys; from legato.cli import main; sys.exit(main())",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--clock",
        clock,
    ]
    log_path = data_dir.parent / f"server-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "legato serve did not start listening"
                    time.sleep(0.05)
            yield boto3.client(
                "stepfunctions",
                endpoint_url=f"http://127.0.0.1:{port}",
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
            )
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
            assert code == 0, log_path.read_text()


def _wait(client: Any, arn: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        described = _describe(client, arn)
        if described["status"] == status:
            return described
        assert time.monotonic() < deadline, described
        time.sleep(0.02)


def _describe(client: Any, arn: str) -> dict[str, Any]:
    described: dict[str, Any] = client.describe_execution(executionArn=arn)
    described.pop("ResponseMetadata", None)
    return described


def _history(client: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get_execution_history(executionArn=arn)["events"]
    return events


def test_serve_keeps_and_resumes_executions_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    role = "arn:aws:iam::123456789012:role/r"
    with _server(data, "system") as client:
        chain = client.create_state_machine(name="chain", definition=json.dumps(CHAIN), roleArn=role)
        slow = client.create_state_machine(name="slow", definition=json.dumps(SLOW), roleArn=role)
        done_arn = client.start_execution(stateMachineArn=chain["stateMachineArn"], input='{"x":1}')[
            "executionArn"
        ]
        described = _wait(client, done_arn, "SUCCEEDED")
        history = _history(client, done_arn)
        machines = client.list_state_machines()["stateMachines"]
        slow_arn = client.start_execution(stateMachineArn=slow["stateMachineArn"])["executionArn"]
        deadline = time.monotonic() + 10
        while _history(client, slow_arn)[-1]["type"] != "WaitStateEntered":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert (data / "legato.db").exists()

    # The second server skips time, so the resumed hour-long Wait ends at once.
    with _server(data, "virtual") as client:
        assert _describe(client, done_arn) == described
        assert _history(client, done_arn) == history
        assert client.list_state_machines()["stateMachines"] == machines
        resumed = _wait(client, slow_arn, "SUCCEEDED")
        events = _history(client, slow_arn)
        types = [e["type"] for e in events]
        assert types.count("ExecutionStarted") == 1 and types.count("WaitStateEntered") == 1
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert resumed["output"] == "{}"
