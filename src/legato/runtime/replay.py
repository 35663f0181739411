"""Replaying the recorded history of an execution that is resumed or redriven.

Every event an execution records names the *frame* it belongs to in the
internal key ``_f``: the top-level path of states is ``""``, a Parallel branch
or an inline Map iteration has its own frame. A resumed execution runs its
states again from the start, and each event it would record is matched, in
order, against what its frame recorded: a match returns the recorded event
instead of a new one. A state whose ``...StateExited`` event was recorded is not
run at all: its output, variables and next state come from that event. A Task
whose result was recorded returns that result instead of calling its resource
again. Only what was not recorded runs, and only it records new events.
"""

from __future__ import annotations

from typing import Any

# Events that close a state; after a redrive, a frame replays up to the last one.
_TERMINAL = ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")


def frame_of(event: dict[str, Any]) -> str:
    """The frame an event belongs to."""
    f = event.get("_f")
    return f if isinstance(f, str) else ""


class Replay:
    """The recorded events of each frame, consumed in order."""

    def __init__(self, recorded: list[dict[str, Any]], *, redrive: bool) -> None:
        frames: dict[str, list[dict[str, Any]]] = {}
        for ev in recorded:
            kind = ev.get("type")
            if kind == "ExecutionRedriven":
                # What an earlier run recorded before it was redriven counts
                # only up to each path's last completed state.
                _cut(frames)
                continue
            if kind in _TERMINAL:
                continue
            frames.setdefault(frame_of(ev), []).append(ev)
        if redrive:
            # A redriven execution reruns what failed or did not run: each path
            # of states replays up to its last completed state, and the state
            # that was running when the execution failed is entered anew.
            _cut(frames)
        self._frames = frames
        self._cursor: dict[str, int] = {}

    def _pending(self, frame: str) -> tuple[list[dict[str, Any]], int]:
        return self._frames.get(frame, []), self._cursor.get(frame, 0)

    def active(self, frame: str) -> bool:
        """True while ``frame`` still has recorded events to match."""
        events, at = self._pending(frame)
        return at < len(events)

    def peek(self, frame: str) -> dict[str, Any] | None:
        """The next recorded event of ``frame``, not consumed (None when there is none)."""
        events, at = self._pending(frame)
        return events[at] if at < len(events) else None

    def take(self, frame: str, type_: str) -> dict[str, Any] | None:
        """The next recorded event of ``frame`` if it is of ``type_`` (consumed), else None.

        A mismatch ends the replay of that frame: what follows runs anew.
        """
        events, at = self._pending(frame)
        if at >= len(events):
            return None
        ev = events[at]
        if ev.get("type") != type_:
            self._cursor[frame] = len(events)
            return None
        self._cursor[frame] = at + 1
        return ev

    def take_any(self, frame: str, types: tuple[str, ...]) -> dict[str, Any] | None:
        """The next recorded event of ``frame`` if its type is one of ``types`` (consumed)."""
        events, at = self._pending(frame)
        if at < len(events) and events[at].get("type") in types:
            self._cursor[frame] = at + 1
            return events[at]
        return None

    def completed_state(self, frame: str, exited_type: str, name: str) -> dict[str, Any] | None:
        """The recorded Exited event of the state just entered, consuming everything up to it.

        None when the state did not complete (it runs, replaying what it recorded).
        """
        events, at = self._pending(frame)
        for i in range(at, len(events)):
            ev = events[i]
            kind = ev.get("type", "")
            if kind == exited_type and _name(ev) == name:
                self._cursor[frame] = i + 1
                return ev
            if kind.endswith("StateEntered"):
                return None
        return None

    def last_time(self, frame: str) -> float | None:
        """The timestamp of the last recorded event of ``frame`` already consumed."""
        events, at = self._pending(frame)
        if at == 0 or not events:
            return None
        ts = events[at - 1].get("timestamp")
        return float(ts) if isinstance(ts, int | float) else None


def _name(ev: dict[str, Any]) -> str | None:
    details = ev.get("stateExitedEventDetails")
    return details.get("name") if isinstance(details, dict) else None


def _cut(frames: dict[str, list[dict[str, Any]]]) -> None:
    for key, events in frames.items():
        frames[key] = _through_last_exit(events, keep_start=key == "")


def _through_last_exit(events: list[dict[str, Any]], *, keep_start: bool) -> list[dict[str, Any]]:
    last = -1
    for i, ev in enumerate(events):
        if str(ev.get("type", "")).endswith("StateExited"):
            last = i
    if last < 0:
        return events[:1] if keep_start and events and events[0].get("type") == "ExecutionStarted" else []
    return events[: last + 1]
