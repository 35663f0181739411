"""Crash test: `legato serve` killed with SIGKILL mid-flight, three times.

Fifty Standard executions with Python-function Tasks, a Wait and a Map run on a
server with a durable store. The server is killed at random moments and
restarted on the same data directory; every execution must still end SUCCEEDED
with the expected output, with a gap-free history and no recorded Task run again.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
from _serve import ServeProcess, client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXECUTIONS = 50
KILLS = 3

FUNCTIONS = """
import os

def work(event, context):
    with open(os.environ["LEGATO_CRASH_LOG"], "a") as log:
        log.write(f"{event['ex']}|{event['step']}\\n")
    return {"step": event["step"], "v": event["v"] * 2}

FUNCTIONS = {"work": work}
"""

FN = "arn:aws:lambda:us-east-1:123456789012:function:work"
DEFINITION = {
    "StartAt": "Begin",
    "States": {
        "Begin": {
            "Type": "Pass",
            "Parameters": {"ex.$": "$.ex", "v.$": "$.v", "items.$": "$.items"},
            "Next": "First",
        },
        "First": {
            "Type": "Task",
            "Resource": FN,
            "Parameters": {"ex.$": "$.ex", "step": "first", "v.$": "$.v"},
            "ResultSelector": {"v.$": "$.v"},
            "ResultPath": "$.first",
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Each"},
        "Each": {
            "Type": "Map",
            "MaxConcurrency": 2,
            "ItemsPath": "$.items",
            "ItemSelector": {"ex.$": "$.ex", "i.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "StartAt": "Item",
                "States": {
                    "Item": {
                        "Type": "Task",
                        "Resource": FN,
                        "Parameters": {
                            "ex.$": "$.ex",
                            "step.$": "States.Format('item{}', $.i)",
                            "v.$": "$.i",
                        },
                        "OutputPath": "$.v",
                        "End": True,
                    }
                },
            },
            "ResultPath": "$.items",
            "Next": "Last",
        },
        "Last": {
            "Type": "Task",
            "Resource": FN,
            "Parameters": {"ex.$": "$.ex", "step": "last", "v.$": "$.first.v"},
            "ResultSelector": {"v.$": "$.v"},
            "ResultPath": "$.last",
            "End": True,
        },
    },
}


class Server(ServeProcess):
    """A `legato serve` process on one data directory with the test's functions, restartable."""

    def __init__(self, data_dir: Path, functions: Path, log: Path) -> None:
        super().__init__(
            ["--data-dir", str(data_dir), "--functions", str(functions), "--clock", "system"],
            {"LEGATO_CRASH_LOG": str(log)},
        )
        self.data_dir, self.functions, self.log = data_dir, functions, log


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    functions = tmp_path / "functions.py"
    functions.write_text(FUNCTIONS)
    srv = Server(tmp_path / "data", functions, tmp_path / "calls.log")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_executions_survive_three_kills(server: Server) -> None:
    rng = random.Random(20261203)
    sfn = client(server.port)
    arn = sfn.create_state_machine(
        name="crashy", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/crash"
    )["stateMachineArn"]
    executions = []
    for n in range(EXECUTIONS):
        body = {"ex": f"e{n}", "v": n, "items": [1, 2, 3]}
        executions.append(
            sfn.start_execution(stateMachineArn=arn, name=f"e{n}", input=json.dumps(body))["executionArn"]
        )

    interrupted = 0
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.1, 0.6))
        running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1000)
        interrupted += len(running["executions"])
        server.kill()
        server.start()
        sfn = client(server.port)
    assert interrupted > 0, "no kill came while executions were running"

    deadline = time.monotonic() + 120
    pending = set(executions)
    while pending and time.monotonic() < deadline:
        for ex in list(pending):
            if sfn.describe_execution(executionArn=ex)["status"] != "RUNNING":
                pending.discard(ex)
        time.sleep(0.2)
    assert not pending, f"{len(pending)} executions still running"

    calls = Counter(server.log.read_text().split())
    for n, ex in enumerate(executions):
        described = sfn.describe_execution(executionArn=ex)
        assert described["status"] == "SUCCEEDED", (ex, described.get("error"), described.get("cause"))
        assert json.loads(described["output"]) == {
            "ex": f"e{n}",
            "v": n,
            "first": {"v": 2 * n},
            "items": [2, 4, 6],
            "last": {"v": 4 * n},
        }
        events = []
        token = None
        while True:
            page = sfn.get_execution_history(
                executionArn=ex, maxResults=1000, **({"nextToken": token} if token else {})
            )
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        # Gap-free, strictly increasing ids.
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert all(0 <= e["previousEventId"] < e["id"] for e in events)
        types = [e["type"] for e in events]
        # Each Task's completion was recorded once: none ran again after it was recorded.
        assert types.count("LambdaFunctionSucceeded") == 5, types
        assert types.count("TaskStateEntered") == 5 and types.count("TaskStateExited") == 5
        assert types.count("WaitStateEntered") == 1 and types.count("MapIterationStarted") == 3
        # At most the calls that were in flight at a kill ran twice.
        for step in ("first", "item1", "item2", "item3", "last"):
            assert 1 <= calls[f"e{n}|{step}"] <= 1 + KILLS, (ex, step, calls[f"e{n}|{step}"])
