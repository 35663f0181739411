"""Live progress bars for Map Runs, from DescribeMapRun's item counts.

:class:`ProgressBoard` draws one line per Map Run: a bar, items done of total,
succeeded, failed, running, the rate and the time left. On a terminal it redraws
its lines in place with ANSI escapes; on anything else (a pipe, a log file) it
prints each run's line every ``interval`` seconds and once more when the run ends,
so a log stays short.

The board only formats what it is given: ``legato run`` feeds it from the engine
in-process (:func:`watch_engine`), ``legato executions watch`` from boto3.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from legato.engine import Engine

__all__ = ["ProgressBoard", "describe_map_runs", "format_line", "watch_engine"]

_DONE_FIELDS = ("succeeded", "failed", "timedOut", "aborted")
_WINDOW = 10.0
"""Seconds of samples the rate is measured over."""
_REDRAW = 0.1
"""The least time between two redraws on a terminal."""


def _label(map_run_arn: str) -> str:
    # arn:aws:states:REGION:ACCOUNT:mapRun:SM_NAME/LABEL:RUN_ID
    resource = map_run_arn.split(":mapRun:", 1)[-1].rsplit(":", 1)[0]
    return resource.rsplit("/", 1)[-1] or resource


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_line(run: Mapping[str, Any], rate: float | None, width: int = 24) -> str:
    """One Map Run's progress line from its DescribeMapRun response and a rate (items/s).

    ``total`` is the items read so far: items are read lazily, so it grows while
    the ItemReader streams, and the time left is an estimate over what is known.
    """
    counts = run.get("itemCounts") or {}
    total = int(counts.get("total", 0))
    done = sum(int(counts.get(name, 0)) for name in _DONE_FIELDS)
    failed = sum(int(counts.get(name, 0)) for name in ("failed", "timedOut", "aborted"))
    filled = int(width * done / total) if total else 0
    bar = "#" * filled + "-" * (width - filled)
    status = str(run.get("status", "RUNNING"))
    parts = [
        f"{_label(str(run.get('mapRunArn', '')))} [{bar}] {done:,}/{total:,}",
        f"succeeded {int(counts.get('succeeded', 0)):,}",
        f"failed {failed:,}",
        f"running {int(counts.get('running', 0)):,}",
    ]
    if rate is not None:
        parts.append(f"{rate:,.0f}/s")
        if status == "RUNNING" and rate > 0:
            parts.append(f"left {_duration((total - done) / rate)}")
    parts.append(status)
    return "  ".join(parts)


class _Track:
    """What the board remembers of one Map Run: recent samples, when it last printed."""

    __slots__ = ("ended", "last_printed", "samples")

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()
        self.last_printed: float | None = None
        self.ended = False

    def sample(self, now: float, done: int) -> float | None:
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > _WINDOW:
            self.samples.popleft()
        t0, d0 = self.samples[0]
        return (done - d0) / (now - t0) if now > t0 else None


class ProgressBoard:
    """Draws the progress of some Map Runs on ``stream``.

    ``tty`` chooses in-place redrawing (default: ``stream.isatty()``); ``interval``
    is how often a non-terminal stream gets a line per running Map Run; ``clock``
    is a monotonic clock (the real one: progress is about the watcher's time).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.interval = interval
        self.clock = clock
        self._tracks: dict[str, _Track] = {}
        self._drawn = 0
        self._last_draw: float | None = None

    def update(self, runs: Sequence[Mapping[str, Any]], *, final: bool = False) -> None:
        """Shows the Map Runs' latest DescribeMapRun responses (``final``: the last call)."""
        now = self.clock()
        lines: list[tuple[str, _Track, bool]] = []
        for run in runs:
            arn = str(run.get("mapRunArn", ""))
            track = self._tracks.setdefault(arn, _Track())
            counts = run.get("itemCounts") or {}
            rate = track.sample(now, sum(int(counts.get(name, 0)) for name in _DONE_FIELDS))
            ended = run.get("status", "RUNNING") != "RUNNING"
            lines.append((format_line(run, rate), track, ended))
        if self.tty:
            self._redraw([line for line, _track, _ended in lines], now, force=final)
            return
        for line, track, ended in lines:
            if track.ended:
                continue
            due = track.last_printed is None or now - track.last_printed >= self.interval
            if due or ended or final:
                self.stream.write(line + "\n")
                track.last_printed = now
            track.ended = ended
        self.stream.flush()

    def _redraw(self, lines: list[str], now: float, *, force: bool) -> None:
        if not force and self._last_draw is not None and now - self._last_draw < _REDRAW:
            return
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}F")  # back to the first line drawn
        for line in lines:
            out.append("\x1b[2K" + line + "\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self._drawn = len(lines)
        self._last_draw = now


async def describe_map_runs(engine: Engine, execution_arn: str) -> list[dict[str, Any]]:
    """DescribeMapRun of every Map Run of an execution (ListMapRuns, all pages)."""
    described = []
    token: str | None = None
    while True:
        request: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            request["nextToken"] = token
        page = await engine.list_map_runs(request)
        for item in page["mapRuns"]:
            described.append(await engine.describe_map_run(mapRunArn=item["mapRunArn"]))
        token = page.get("nextToken")
        if not token:
            return described


async def watch_engine(
    engine: Engine, execution_arn: str, board: ProgressBoard, stop: asyncio.Event, poll: float = 0.2
) -> None:
    """Feeds ``board`` from the engine every ``poll`` seconds until ``stop`` is set,
    then once more with the final counts."""
    while not stop.is_set():
        board.update(await describe_map_runs(engine, execution_arn))
        try:
            await asyncio.wait_for(stop.wait(), poll)
        except TimeoutError:
            pass
    board.update(await describe_map_runs(engine, execution_arn), final=True)
