"""``legato executions`` against a live ``legato serve``: watch a Map Run's progress."""

from __future__ import annotations

import json
import uuid

import pytest

from legato import client
from legato.cli import main

ROLE = "arn:aws:iam::123456789012:role/test"
DEFINITION = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "Label": "rows",
            "MaxConcurrency": 4,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "W",
                "States": {"W": {"Type": "Wait", "Seconds": 0, "End": True}},
            },
            "End": True,
        }
    },
}


def test_watch_list_describe_history(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    sfn = client(endpoint)
    name = f"watch-{uuid.uuid4().hex[:8]}"
    sm = sfn.create_state_machine(name=name, definition=json.dumps(DEFINITION), roleArn=ROLE)[
        "stateMachineArn"
    ]
    arn = sfn.start_execution(stateMachineArn=sm, input=json.dumps(list(range(40))))["executionArn"]

    args = ["--endpoint", endpoint]
    assert main(["executions", "watch", arn, "--interval", "0", "--poll", "0.05", *args]) == 0
    out = capsys.readouterr().out.splitlines()
    bars = [line for line in out if line.startswith("rows [")]
    assert bars and "40/40" in bars[-1] and "succeeded 40" in bars[-1] and bars[-1].endswith("SUCCEEDED")
    assert out[-1] == "SUCCEEDED"

    assert main(["executions", "watch", arn, "--json", *args]) == 0
    final = json.loads(capsys.readouterr().out)
    assert final["execution"]["status"] == "SUCCEEDED"
    assert final["mapRuns"][0]["itemCounts"]["succeeded"] == 40

    assert main(["executions", "describe", arn, *args]) == 0
    assert json.loads(capsys.readouterr().out)["executionArn"] == arn
    assert main(["executions", "list", sm, "--status", "SUCCEEDED", *args]) == 0
    assert [e["executionArn"] for e in json.loads(capsys.readouterr().out)] == [arn]
    assert main(["executions", "history", arn, *args]) == 0
    types = [e["type"] for e in json.loads(capsys.readouterr().out)]
    assert "MapRunStarted" in types and types[-1] == "ExecutionSucceeded"


def test_watch_unknown_execution(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:execution:nope:nope"
    assert main(["executions", "watch", missing, "--endpoint", endpoint]) == 2
    assert "ExecutionDoesNotExist" in capsys.readouterr().err
