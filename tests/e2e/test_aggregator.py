"""The aggregator blueprint (examples/aggregator) end to end against its test API: exact datasets."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pyarrow.parquet as pq
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

from aggregator import blueprint, thirdparty  # noqa: E402

from legato.cli import main  # noqa: E402


def _run(tmp_path: Path, **options: object) -> blueprint.DemoReport:
    opts = blueprint.DemoOptions(data_dir=tmp_path, **options)  # type: ignore[arg-type]
    return asyncio.run(blueprint.run_demo(opts))


def _assert_exact(report: blueprint.DemoReport) -> None:
    assert report.status == "SUCCEEDED", (report.error, report.cause)
    assert report.exact, (report.checksum, report.expected_checksum)
    assert report.rows == report.expected_rows
    assert report.parquet_path is not None
    table = pq.read_table(report.parquet_path)
    assert thirdparty.checksum(
        zip(*(table.column(c).to_pylist() for c in thirdparty.COLUMNS), strict=False)
    ) == (report.expected_checksum)
    assert report.leftover_parts == 0  # the job deleted the parts once the outputs were written
    assert report.task["status"] == "SUCCEEDED"
    assert report.task["output_csv"] == "s3://aggregator-output/output/task-0001/data.csv"
    assert int(report.task["row_count"]) == report.expected_rows


def test_ground_truth_is_deterministic() -> None:
    config = thirdparty.ApiConfig(locations=3, rows_per_location=40)
    assert thirdparty.ground_truth_checksum(config) == thirdparty.ground_truth_checksum(config)
    counts = thirdparty.expected_rows(config)
    assert set(counts) == {"loc-0000", "loc-0001", "loc-0002"}
    assert all(60 <= n <= 80 for n in counts.values())
    rows = [tuple(r[c] for c in thirdparty.COLUMNS) for r in thirdparty.formatted_rows(config, "loc-0000")]
    assert thirdparty.checksum(rows) == thirdparty.checksum(reversed(rows))
    assert thirdparty.checksum(rows) != thirdparty.checksum(rows + rows[:1])  # a duplicate shows
    altered = [(*rows[0][:3], rows[0][3] + 1, rows[0][4]), *rows[1:]]
    assert thirdparty.checksum(rows) != thirdparty.checksum(altered)


def test_exact_without_faults(tmp_path: Path) -> None:
    report = _run(tmp_path, locations=5, rows_per_location=50, page_size=20)
    _assert_exact(report)
    assert report.api.throttles == report.api.faults == 0
    assert report.output is not None and report.output["locations"] == 5


def test_exact_with_the_api_in_its_own_process(tmp_path: Path) -> None:
    lines: list[str] = []
    opts = blueprint.DemoOptions(
        data_dir=tmp_path, locations=3, rows_per_location=30, page_size=10, fault_rate=0.2, api_process=True
    )
    report = asyncio.run(blueprint.run_demo(opts, lines.append))
    _assert_exact(report)
    # the counters are the API process's, read from its GET /stats
    assert report.api.pages >= report.rows // 10 > 0
    assert report.api.rows == report.rows
    assert report.api.faults > 0  # the fault rate reached the process
    assert any(line.startswith("progress:") for line in lines)
    base = re.search(r"API at (http://127\.0\.0\.1:\d+)", lines[0])
    assert base is not None

    async def stats_after_the_run() -> None:
        async with aiohttp.ClientSession() as session:
            await session.get(f"{base[1]}/stats")

    with pytest.raises(aiohttp.ClientConnectionError):  # the API's process is gone
        asyncio.run(stats_after_the_run())


def test_api_stats_endpoint() -> None:
    config = thirdparty.ApiConfig(locations=2, rows_per_location=8)

    async def scenario() -> dict[str, int]:
        runner, base = await thirdparty.serve(thirdparty.ThirdPartyApi(config))
        try:
            async with aiohttp.ClientSession() as session:
                url = f"{base}/locations/loc-0001/data?type=failed&limit=5"
                async with session.get(url, headers={"x-api-key": config.api_key}) as r:
                    assert (await r.json())["count"] == 5
                async with session.get(url) as r:
                    assert r.status == 401
                async with session.get(f"{base}/stats") as r:  # no key needed
                    assert r.status == 200
                async with session.get(f"{base}/stats") as r:  # and not counted
                    return dict(await r.json())
        finally:
            await runner.cleanup()

    stats = asyncio.run(scenario())
    assert stats == {"requests": 2, "pages": 1, "rows": 5, "throttles": 0, "faults": 0, "unauthorized": 1}


def test_api_command_line_round_trip() -> None:
    config = thirdparty.ApiConfig(
        locations=3,
        rows_per_location=7,
        latency_ms=2.5,
        fault_rate=0.1,
        api_key="k",
        down=frozenset({"b", "a"}),
    )
    assert thirdparty.config_from_args(thirdparty.command_line(config)) == (config, 0)
    assert thirdparty.command_line(thirdparty.ApiConfig(), 8090) == ["--port=8090"]
    parsed, _ = thirdparty.config_from_args(["--down", "loc-0001,loc-0002", "--down=loc-0003"])
    assert parsed.down == {"loc-0001", "loc-0002", "loc-0003"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_api_process_prints_its_url_and_stops_cleanly(sig: signal.Signals) -> None:
    script = EXAMPLES / "aggregator" / "thirdparty.py"
    argv = [sys.executable, str(script), "--port", "0", "--locations", "1"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert re.fullmatch(r"listening http://127\.0\.0\.1:\d+\n", first), first
        proc.send_signal(sig)
        err = proc.communicate(timeout=10)[1]
    assert proc.returncode == 0
    assert err == ""


def test_api_process_stops_when_its_parent_is_gone() -> None:
    script = EXAMPLES / "aggregator" / "thirdparty.py"
    argv = [sys.executable, str(script), "--port", "0", "--locations", "1", "--exit-with-stdin"]
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().startswith("listening http://127.0.0.1:")
        proc.stdin.close()  # what the parent's death does to the pipe
        proc.wait(timeout=10)
        assert proc.stderr is not None
        err = proc.stderr.read()
    assert proc.returncode == 0
    assert err == ""


def test_a_clear_error_when_the_api_process_prints_no_url() -> None:
    async def url_of(code: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
        )
        try:
            return await blueprint._api_url(proc)
        finally:
            await proc.wait()

    with pytest.raises(RuntimeError, match="printed 'hello' instead of"):
        asyncio.run(url_of("print('hello')"))
    with pytest.raises(RuntimeError, match="exited with 3 before printing its URL"):
        asyncio.run(url_of("raise SystemExit(3)"))


def test_exact_under_faults_and_throttling(tmp_path: Path) -> None:
    report = _run(
        tmp_path,
        locations=6,
        rows_per_location=45,
        page_size=15,
        fault_rate=0.2,
        throttle_rate=0.1,
        batch_size=2,
    )
    _assert_exact(report)
    assert report.api.throttles > 0 and report.api.faults > 0


def test_location_down_fails_the_task_when_no_failure_is_tolerated(tmp_path: Path) -> None:
    report = _run(tmp_path, locations=3, rows_per_location=20, page_size=10, down=frozenset({"loc-0001"}))
    assert report.status == "FAILED"
    assert report.error == "States.ExceedToleratedFailureThreshold"
    assert report.task["status"] == "FAILED"
    assert report.task["failure_error"] == "States.ExceedToleratedFailureThreshold"
    assert report.task["failure_cause"]


def test_location_down_is_tolerated(tmp_path: Path) -> None:
    report = _run(
        tmp_path,
        locations=3,
        rows_per_location=20,
        page_size=10,
        down=frozenset({"loc-0001"}),
        tolerated_failures=1,
    )
    _assert_exact(report)  # the ground truth leaves out the location that is down
    assert report.output is not None and report.output["locations"] == 2


def test_legato_demo_aggregator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["demo", "aggregator", "--locations", "2", "--rows-per-location", "12", "--page-size", "5"]
    assert main([*argv, "--fault-rate", "0.2", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "exact: yes" in out
    assert "phases: setup" in out
