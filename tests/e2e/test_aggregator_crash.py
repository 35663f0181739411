"""The aggregator on a real ``legato serve``, killed with SIGKILL mid-run and restarted.

The blueprint is deployed over the Step Functions API onto a ``legato serve --data-dir D
--clock system`` subprocess with its jobs and integrations files, the third-party API answers
with some latency so the task takes a few seconds, and the server is killed (SIGKILL, by
process group) while locations are being extracted, then restarted on the same data directory.
The task must still end SUCCEEDED with the exact dataset: the consolidated CSV's checksum
equals the ground truth (no lost, duplicated or altered row).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
from _serve import ServeProcess, client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))

from aggregator import blueprint, thirdparty  # noqa: E402

TASK = "task-crash"

JOBS_FILE = f"""
import os
import sys

sys.path.insert(0, {str(EXAMPLES)!r})
from aggregator import jobs

GLUE_JOBS = {{jobs.JOB_NAME: jobs.consolidation_job(os.environ["AGGREGATOR_DATA_DIR"])}}
"""


class ApiThread:
    """The third-party API served from a thread with its own event loop."""

    def __init__(self, config: thirdparty.ApiConfig) -> None:
        self.api = thirdparty.ThirdPartyApi(config)
        self.loop = asyncio.new_event_loop()
        self.base = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner, self.base = self.loop.run_until_complete(thirdparty.serve(self.api))
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "the third-party API did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


class Server(ServeProcess):
    """A ``legato serve`` process on one data directory with the aggregator's jobs and
    integrations, restartable."""

    def __init__(self, data_dir: Path, jobs: Path, integrations: Path, env: dict[str, str]) -> None:
        super().__init__(
            [
                *("--data-dir", str(data_dir), "--clock", "system"),
                *("--jobs", str(jobs), "--integrations", str(integrations)),
            ],
            env,
        )


@dataclass
class CrashRun:
    """What one killed-and-restarted run left behind."""

    config: thirdparty.ApiConfig
    data_dir: Path
    bp: blueprint.Blueprint
    pages_at_kill: int
    described: dict[str, Any]
    extractions: list[str]
    """The names of every execution of the extraction workflow."""


def _wait(sfn: Any, arn: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running after {timeout} s")


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashRun]:
    """Runs one task, kills the server with SIGKILL once pages are coming in, restarts it, waits."""
    tmp_path = tmp_path_factory.mktemp("aggregator-crash")
    api = ApiThread(thirdparty.ApiConfig(locations=6, rows_per_location=60, latency_ms=60))
    api.start()
    data_dir = tmp_path / "data"
    bp = blueprint.Blueprint(page_size=10, max_concurrency=2)
    jobs_file = tmp_path / "jobs.py"
    jobs_file.write_text(JOBS_FILE)
    integrations = tmp_path / "integrations.json"
    connection = {
        "authorization_type": "API_KEY",
        "api_key_name": "x-api-key",
        "api_key_value_env": blueprint.API_KEY_ENV,
    }
    integrations.write_text(json.dumps({"connections": {bp.connection: connection}}))
    locations = {
        loc: f"{api.base}/locations/{loc}" for loc in thirdparty.location_ids(api.api.config.locations)
    }
    blueprint.seed(data_dir, bp, TASK, locations)
    env = {blueprint.API_KEY_ENV: api.api.config.api_key, "AGGREGATOR_DATA_DIR": str(data_dir)}
    server = Server(data_dir, jobs_file, integrations, env)
    server.start()
    try:
        sfn = client(server.port)
        texts = blueprint.definitions(bp)
        arns = {}
        for tier in ("processing", "extraction", "main"):
            arns[tier] = sfn.create_state_machine(
                name=bp.names[tier],
                definition=texts[tier],
                type="EXPRESS" if tier == "processing" else "STANDARD",
                roleArn="arn:aws:iam::123456789012:role/aggregator",
            )["stateMachineArn"]
        main = sfn.start_execution(
            stateMachineArn=arns["main"],
            name=TASK,
            input=json.dumps({"task_id": TASK, "tolerated_failures": 0}),
        )["executionArn"]

        # kill once some pages are in but well before the extraction is over (about 80 pages)
        deadline = time.monotonic() + 20
        while api.api.stats.pages < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        pages_at_kill = api.api.stats.pages
        assert sfn.describe_execution(executionArn=main)["status"] == "RUNNING"
        server.kill()
        server.start()
        sfn = client(server.port)

        described = _wait(sfn, main, timeout=60)
        extractions = [
            e["name"]
            for e in sfn.list_executions(stateMachineArn=arns["extraction"], maxResults=1000)["executions"]
        ]
    finally:
        server.stop()
        api.stop()
    yield CrashRun(api.api.config, data_dir, bp, pages_at_kill, described, extractions)


def test_kill_9_mid_run_still_gives_the_exact_dataset(crash_run: CrashRun) -> None:
    run = crash_run
    assert run.pages_at_kill >= 8
    assert run.described["status"] == "SUCCEEDED", (run.described.get("error"), run.described.get("cause"))
    out_dir = run.data_dir / "s3" / run.bp.destination_bucket / "output" / TASK
    assert blueprint.csv_checksum(out_dir / "data.csv") == thirdparty.ground_truth_checksum(run.config)
    task = blueprint.task_item(run.data_dir, run.bp, TASK)
    assert task["status"] == "SUCCEEDED"
    assert int(task["row_count"]) == sum(thirdparty.expected_rows(run.config).values())
    work = run.data_dir / "s3" / run.bp.working_bucket / "tmp" / TASK
    assert not work.is_dir() or not any(work.rglob("*.json"))


def test_kill_9_mid_run_extracts_each_location_once(crash_run: CrashRun) -> None:
    assert len(crash_run.extractions) == crash_run.config.locations, crash_run.extractions
