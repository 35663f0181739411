"""The aggregator blueprint (examples/aggregator) end to end against its test API: exact datasets."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

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
