"""What the execution page shows of a history: one row per state visit, and Map progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["map_progress", "state_visits"]

Event = Mapping[str, Any]

_FAILURE_DETAILS = (
    "Failed",
    "TimedOut",
    "Aborted",
)


def _details(ev: Event) -> Mapping[str, Any]:
    for key, value in ev.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def state_visits(history: Sequence[Event]) -> list[dict[str, Any]]:
    """One row per state entered: name, type, status, input, output, assigned
    variables, error and cause, and the event ids it spans.

    Events between a state's entry and exit belong to it when their
    ``previousEventId`` chain leads back to its entry; a failure event (a Task's,
    a Map's, a Parallel's) sets the row's error and cause.
    """
    rows: list[dict[str, Any]] = []
    row_of: dict[int, dict[str, Any]] = {}  # event id -> row it belongs to
    open_rows: list[dict[str, Any]] = []
    for ev in history:
        kind = str(ev.get("type", ""))
        eid = int(ev.get("id", 0))
        prev = int(ev.get("previousEventId", 0) or 0)
        details = _details(ev)
        if kind.endswith("StateEntered"):
            row: dict[str, Any] = {
                "name": details.get("name"),
                "type": kind.removesuffix("StateEntered"),
                "status": "running",
                "input": details.get("input"),
                "output": None,
                "variables": None,
                "error": None,
                "cause": None,
                "enteredEventId": eid,
                "exitedEventId": None,
                "entered": ev.get("timestamp"),
                "exited": None,
            }
            before = row_of.get(prev)
            if before is not None and before["status"] == "failed" and before["exitedEventId"] is None:
                before["status"] = "caught"  # a Catch went on from its failure
                if before in open_rows:
                    open_rows.remove(before)
            rows.append(row)
            open_rows.append(row)
            row_of[eid] = row
            continue
        if kind.endswith("StateExited"):
            chained = row_of.get(prev)
            if chained is not None and chained["name"] == details.get("name") and chained in open_rows:
                row_or_none: dict[str, Any] | None = chained  # concurrent iterations share names
            else:
                row_or_none = _open_row(open_rows, details.get("name"))
            if row_or_none is None:
                continue
            row = row_or_none
            row_of[eid] = row
            row.update(
                status="succeeded" if row["error"] is None else "caught",
                output=details.get("output"),
                variables=details.get("assignedVariables"),
                exitedEventId=eid,
                exited=ev.get("timestamp"),
            )
            open_rows.remove(row)
            continue
        owner = (
            _container(kind, open_rows)
            if kind.startswith(("MapState", "ParallelState"))
            else row_of.get(prev)
        )
        if owner is None:
            continue
        row_of[eid] = owner
        if kind.endswith(_FAILURE_DETAILS) and not kind.startswith(("MapIteration", "Execution")):
            owner.update(status="failed", error=details.get("error"), cause=details.get("cause"))
        elif (
            kind.endswith(("Scheduled", "Started"))
            and owner["status"] == "failed"
            and kind != "MapStateStarted"
        ):
            owner["status"] = "running"  # retried
    ended = str(history[-1].get("type", "")) if history else ""
    if ended in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
        for row in open_rows:
            if row["status"] == "running":
                row["status"] = "aborted" if ended == "ExecutionAborted" else "failed"
    return rows


def _open_row(open_rows: Sequence[dict[str, Any]], name: Any) -> dict[str, Any] | None:
    found = [row for row in open_rows if row["name"] == name]
    return found[-1] if found else None


def _container(kind: str, open_rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    wanted = "Map" if kind.startswith("Map") else "Parallel"
    found = [row for row in open_rows if row["type"] == wanted]
    return found[-1] if found else None


def map_progress(history: Sequence[Event]) -> list[dict[str, Any]]:
    """Each Map state run: its name, item count, and iterations started, succeeded, failed, aborted."""
    runs: list[dict[str, Any]] = []
    current: dict[str, dict[str, Any]] = {}
    open_maps: list[str] = []
    for ev in history:
        kind = str(ev.get("type", ""))
        details = _details(ev)
        if kind == "MapStateEntered":
            open_maps.append(str(details.get("name")))
        elif kind == "MapStateStarted" and open_maps:
            name = open_maps[-1]
            run = {
                "name": name,
                "length": details.get("length", 0),
                "started": 0,
                "succeeded": 0,
                "failed": 0,
                "aborted": 0,
                "status": "RUNNING",
            }
            runs.append(run)
            current[name] = run
        elif kind.startswith("MapIteration"):
            run_or_none = current.get(str(details.get("name")))
            if run_or_none is not None:
                field = kind.removeprefix("MapIteration").lower()
                if field in run_or_none:
                    run_or_none[field] += 1
        elif kind in ("MapStateSucceeded", "MapStateFailed", "MapStateAborted") and open_maps:
            run_or_none = current.get(open_maps[-1])
            if run_or_none is not None:
                run_or_none["status"] = kind.removeprefix("MapState").upper()
        elif kind == "MapStateExited":
            name = str(details.get("name"))
            if name in open_maps:
                open_maps.remove(name)
    return runs
