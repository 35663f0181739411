"""``legato graph``: files in, SVG/PNG/DOT out, one-line errors, an execution read from a live server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import example_definitions

from legato.cli import main

MACHINE: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Both"}],
            "Default": "Never",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}},
                {"StartAt": "Two", "States": {"Two": {"Type": "Pass", "End": True}}},
            ],
            "End": True,
        },
        "Never": {"Type": "Fail", "Error": "Nope"},
    },
}


def test_svg_png_and_dot(tmp_path: Path) -> None:
    source = example_definitions()[0]
    for suffix, magic in ((".svg", b"<svg"), (".png", b"\x89PNG"), (".dot", b"digraph")):
        out = tmp_path / f"graph{suffix}"
        assert main(["graph", str(source), "-o", str(out)]) == 0
        assert out.read_bytes().startswith(magic)


def test_yaml_definition(tmp_path: Path) -> None:
    source = tmp_path / "m.asl.yaml"
    source.write_text("StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n")
    assert main(["graph", str(source), "-o", str(tmp_path / "m.svg")]) == 0
    assert 'data-state="A"' in (tmp_path / "m.svg").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json", "-o", "x.svg"], "definition file not found"),
        (["{file}", "-o", "x.gif"], "must end in .svg, .png or .dot"),
        (["{bad}", "-o", "x.svg"], "cannot draw an invalid definition"),
        (["-o", "x.svg"], "give a definition FILE"),
        (["{file}", "-o", "x.svg", "--execution", "nope"], "not an execution ARN"),
    ],
)
def test_errors_are_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(MACHINE))
    bad = tmp_path / "bad.json"
    bad.write_text('{"StartAt": "X", "States": {}}')
    argv = [a.format(file=good, bad=bad) for a in args]
    argv = [str(tmp_path / a) if a.startswith("x.") else a for a in argv]
    assert main(["graph", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    data_dir = tmp_path_factory.mktemp("graph-serve")
    cmd = [
        sys.executable,
        "-c",
        "import sys; from legato.cli import main; sys.exit(main())",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    with open(data_dir / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        try:
            deadline = time.monotonic() + 15
            while True:
                assert proc.poll() is None, (data_dir / "server.log").read_text()
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "legato serve did not start"
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_execution_from_a_server(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    arn = sfn.create_state_machine(
        name="graphed", definition=json.dumps(MACHINE), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input='{"go": true}')["executionArn"]
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out = tmp_path / "run.svg"
    # No FILE: the definition comes from the execution too.
    assert main(["graph", "-o", str(out), "--execution", execution, "--endpoint", endpoint]) == 0
    svg = out.read_text()
    for name in ("Check", "Both", "One", "Two"):
        assert f'status-succeeded" data-state="{name}"' in svg
    assert 'status-not-reached" data-state="Never"' in svg
