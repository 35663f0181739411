"""Map Run progress bars: the line format, terminal and log output, ``legato run``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from legato.cli import main
from legato.cli.progress import ProgressBoard, format_line

ARN = "arn:aws:states:us-east-1:123456789012:mapRun:sm/items:1234"


def _run(status: str = "RUNNING", **counts: int) -> dict[str, Any]:
    return {"mapRunArn": ARN, "status": status, "itemCounts": counts}


def test_format_line() -> None:
    line = format_line(_run(succeeded=45, failed=5, running=10, total=100), rate=10.0, width=10)
    assert line.startswith("items [#####-----] 50/100")
    assert "succeeded 45" in line and "failed 5" in line and "running 10" in line
    assert "10/s" in line and "left 0:05" in line and line.endswith("RUNNING")
    done = format_line(_run("SUCCEEDED", succeeded=100, total=100), rate=None, width=4)
    assert "[####] 100/100" in done and "left" not in done and done.endswith("SUCCEEDED")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_stream_prints_every_interval_and_once_at_the_end() -> None:
    out, clock = io.StringIO(), _Clock()
    board = ProgressBoard(out, tty=False, interval=5.0, clock=clock)
    board.update([_run(succeeded=0, running=2, total=10)])
    clock.now = 1.0
    board.update([_run(succeeded=2, running=2, total=10)])  # not due yet
    clock.now = 6.0
    board.update([_run(succeeded=6, running=2, total=10)])
    clock.now = 7.0
    board.update([_run("SUCCEEDED", succeeded=10, total=10)])
    board.update([_run("SUCCEEDED", succeeded=10, total=10)], final=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert "0/10" in lines[0] and "6/10" in lines[1] and "1/s" in lines[1] and "left 0:04" in lines[1]
    assert "10/10" in lines[2] and lines[2].endswith("SUCCEEDED")
    assert "\x1b" not in out.getvalue()


def test_terminal_redraws_in_place() -> None:
    out, clock = io.StringIO(), _Clock()
    board = ProgressBoard(out, tty=True, clock=clock)
    board.update([_run(total=4, running=4)])
    clock.now = 1.0
    board.update([_run("SUCCEEDED", succeeded=4, total=4)], final=True)
    text = out.getvalue()
    assert text.count("\x1b[2K") == 2 and "\x1b[1F" in text  # the second draw moved back up one line
    assert text.rstrip().endswith("SUCCEEDED")


DISTRIBUTED = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "Label": "numbers",
            "MaxConcurrency": 5,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": True}},
            },
            "End": True,
        }
    },
}


def test_legato_run_shows_map_run_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "map.asl.json"
    path.write_text(json.dumps(DISTRIBUTED))
    items = json.dumps(list(range(200)))
    assert main(["run", str(path), "--input", items, "--progress-interval", "0"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == list(range(200))
    lines = [line for line in captured.err.splitlines() if line.startswith("numbers [")]
    assert lines, captured.err
    last = lines[-1]
    assert "200/200" in last and "succeeded 200" in last and "failed 0" in last and "running 0" in last
    assert last.endswith("SUCCEEDED")
    assert "\x1b" not in captured.err  # not a terminal: plain lines

    assert main(["run", str(path), "--input", items, "--json"]) == 0
    quiet = capsys.readouterr()
    assert "numbers [" not in quiet.err and json.loads(quiet.out)["status"] == "SUCCEEDED"
