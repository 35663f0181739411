"""What happened to each state in an execution, read from its history events.

Events are in GetExecutionHistory shape (``legato.run(...).history``, or the
``events`` of boto3's ``get_execution_history``). Each ``*StateEntered`` event
opens a *visit* of a state; the events that follow it (linked by
``previousEventId``) belong to that visit until its ``*StateExited`` event. A
visit is:

- ``succeeded``: exited with no failure, or after a failure that a Retry overcame;
- ``caught``: failed, then exited (a Catch took over);
- ``failed``: failed and never exited, a Fail state entered, or open when the
  execution failed, timed out or was aborted;
- ``running``: open while the execution still runs.

A state visited several times (a loop, Map iterations) takes the most telling
status of its visits: failed, then running, then caught, then succeeded. A
state never entered is ``not-reached``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from legato.graph.model import build_graph

__all__ = ["history_statuses", "state_statuses"]

_RANK = {"failed": 4, "running": 3, "caught": 2, "succeeded": 1}
_EXECUTION_ENDS = ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
# Failures that belong to the state itself, not to one Map iteration or Map Run item.
_NOT_STATE_FAILURES = ("MapIteration", "MapRun", "Execution")


@dataclass(slots=True)
class _Visit:
    name: str
    type: str
    failed: bool = False
    exited: bool = False
    superseded: bool = False


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _mark(visit: _Visit | None, kind: str) -> None:
    """Records a failure of ``visit``, or a success that clears one (a Retry overcame it)."""
    if visit is None:
        return
    if kind.endswith("Succeeded"):
        visit.failed = False
    elif kind.endswith(("Failed", "TimedOut", "Aborted")):
        visit.failed = True


def history_statuses(history: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The status of every state entered in ``history``; states never entered are absent."""
    visits: list[_Visit] = []
    owner: dict[int, _Visit] = {}
    ended = False
    for event in history:
        kind = str(event.get("type", ""))
        event_id = event.get("id")
        details = _details(event)
        visit: _Visit | None = None
        if kind.endswith("StateEntered"):
            visit = _Visit(str(details.get("name", "")), kind[: -len("StateEntered")])
            visits.append(visit)
        elif kind.endswith("StateExited"):
            name = str(details.get("name", ""))
            visit = owner.get(event.get("previousEventId", -1))
            if visit is None or visit.name != name or visit.exited:
                # Concurrent Map iterations interleave: the oldest open visit exits.
                visit = next((v for v in visits if v.name == name and not v.exited), None)
            if visit is not None:
                visit.exited = True
        elif kind.startswith(("ParallelState", "MapState")):
            # Their previousEventId is often an event of a state inside the box.
            box_type = kind[: kind.index("State")]
            visit = next((v for v in reversed(visits) if v.type == box_type and not v.exited), None)
            _mark(visit, kind)
        else:
            visit = owner.get(event.get("previousEventId", -1)) if isinstance(event_id, int) else None
            if kind in _EXECUTION_ENDS:
                ended = True
            elif kind == "ExecutionRedriven":
                ended = False
                for earlier in visits:  # a redrive runs the unfinished states again
                    earlier.superseded = earlier.superseded or not earlier.exited
            elif not kind.startswith(_NOT_STATE_FAILURES):
                _mark(visit, kind)
        if isinstance(event_id, int) and visit is not None:
            owner[event_id] = visit

    result: dict[str, str] = {}
    for visit in visits:
        if visit.superseded:
            continue
        if visit.exited:
            status = "caught" if visit.failed else "succeeded"
        else:
            status = "failed" if ended or visit.type == "Fail" else "running"
        if _RANK[status] > _RANK.get(result.get(visit.name, ""), 0):
            result[visit.name] = status
    return result


def state_statuses(
    definition: str | bytes | Mapping[str, Any], history: Sequence[Mapping[str, Any]] | None
) -> dict[str, str]:
    """``{state name: status}`` for every state of ``definition``, nested ones included.

    Each status is one of :data:`legato.graph.STATUSES`. Without a history every
    state is ``not-reached``. Raises :class:`~legato.graph.GraphDefinitionError`
    for an invalid definition.
    """
    graph = build_graph(definition)
    seen = history_statuses(history or ())
    return {name: seen.get(name, "not-reached") for name in graph.states}
