"""The console's graph: ``legato.graph`` when it can draw, a plain fallback drawing when it cannot.

The console must still open on a machine without Graphviz, so a failure to draw
(no ``dot``, a drawing error) falls back to a simple column of boxes that
carries the same ``data-state`` / ``status-*`` markup the page recolours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from legato import _json
from legato.console import _history

__all__ = ["STATUSES", "render", "statuses"]

log = logging.getLogger("legato.console")

STATUSES = ("succeeded", "failed", "caught", "running", "not-reached")
"""The status classes the page knows; anything else is shown as ``not-reached``."""

Event = Mapping[str, Any]


def _parsed(definition: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(definition, str):
        value = _json.loads(definition)
        return value if isinstance(value, Mapping) else {}
    return definition


def render(definition: str, history: Sequence[Event] | None = None) -> str:
    """The SVG text of ``definition``, coloured by ``history`` when given."""
    try:
        from legato import graph

        return graph.render_svg(definition, history=history)
    except Exception as exc:  # no Graphviz, or a definition the renderer rejects
        log.info("graph renderer unavailable (%s); using the console's plain drawing", exc)
    try:
        return _fallback_svg(_parsed(definition), statuses(definition, history) if history else None)
    except ValueError:
        return _fallback_svg({}, None)


def statuses(definition: str, history: Sequence[Event]) -> dict[str, str]:
    """``{state name: status}``, from ``legato.graph.state_statuses`` or the console's own reading."""
    try:
        from legato import graph

        found = graph.state_statuses(definition, history)
        return {str(k): (v if v in STATUSES else "not-reached") for k, v in found.items()}
    except Exception as exc:
        log.debug("legato.graph.state_statuses unavailable (%s)", exc)
    try:
        names = [name for name, _, _ in _walk(_parsed(definition))]
    except ValueError:
        names = []
    return _statuses_from_history(names, history)


# -- the console's own reading of a history

_PRECEDENCE = ("running", "failed", "caught", "succeeded")
"""When a state ran several times (Map iterations), the status shown is the first of these it had."""


def _statuses_from_history(names: Sequence[str], history: Sequence[Event]) -> dict[str, str]:
    """Each state's status from its visits (see :func:`legato.console._history.state_visits`)."""
    seen: dict[str, set[str]] = {}
    for visit in _history.state_visits(history):
        status = "failed" if visit["status"] == "aborted" else str(visit["status"])
        seen.setdefault(str(visit["name"]), set()).add(status)
    result = dict.fromkeys(names, "not-reached")
    for name, statuses_seen in seen.items():
        result[name] = next((s for s in _PRECEDENCE if s in statuses_seen), "not-reached")
    return result


# -- the fallback drawing


def _walk(machine: Mapping[str, Any], depth: int = 0) -> Iterator[tuple[str, str, int]]:
    """(name, type, depth) of every state, nested ones after their parent."""
    states = machine.get("States")
    if not isinstance(states, Mapping):
        return
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        yield str(name), str(state.get("Type", "")), depth
        for branch in state.get("Branches") or ():
            if isinstance(branch, Mapping):
                yield from _walk(branch, depth + 1)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, Mapping):
            yield from _walk(processor, depth + 1)


def _fallback_svg(machine: Mapping[str, Any], found: Mapping[str, str] | None) -> str:
    rows = list(_walk(machine))
    height = 40 + 44 * len(rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="360" height="{height}" viewBox="0 0 360 {height}">',
        '<text x="10" y="22" class="start">Start</text>',
    ]
    for i, (name, type_, depth) in enumerate(rows):
        y = 34 + 44 * i
        x = 10 + 24 * depth
        status = f" status-{found.get(name, 'not-reached')}" if found is not None else ""
        parts.append(
            f"<g class={quoteattr(f'state type-{type_.lower()}{status}')} data-state={quoteattr(name)}>"
            f'<rect x="{x}" y="{y}" width="{330 - 24 * depth}" height="36" rx="6" fill="#fff" stroke="#555"/>'
            f'<text x="{x + 10}" y="{y + 23}">{escape(name)} ({escape(type_)})</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
