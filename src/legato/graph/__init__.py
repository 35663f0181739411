"""Draw a state machine as a graph, optionally coloured by an execution's history.

Public interface (stable; the web console codes against it)::

    render_svg(definition: str | Mapping[str, Any], *, history: Sequence[Mapping[str, Any]] | None = None) -> str
        A standalone SVG document (text). Every state, nested ones included, is exactly
        one ``<g>`` element with ``class="state ..."`` and ``data-state="<name>"``;
        its other classes are ``type-<task|choice|...>`` and, when ``history`` is given,
        ``status-<succeeded|failed|caught|running|not-reached>``.
        State names are unique across a whole machine (AWS's DUPLICATE_STATE_NAME rule),
        so ``data-state`` identifies a node. The SVG carries its own ``<style>`` keyed on
        the ``status-*`` classes: a page recolours a node live by swapping that class.

    render_png(definition, *, history=None) -> bytes
        The same drawing as PNG (Graphviz's own png output).

    state_statuses(definition, history) -> dict[str, str]
        ``{state name: status}`` for every state, status one of STATUSES.

``definition`` is ASL text (JSON or YAML) or an already parsed mapping. ``history``
is a list of events in GetExecutionHistory shape (``legato.run(...).history`` or
boto3's ``get_execution_history()["events"]``).

Rendering needs Graphviz's ``dot`` program on PATH (Debian: ``apt-get install graphviz``);
without it :class:`GraphvizNotFound` is raised with that instruction. An invalid
definition raises :class:`GraphDefinitionError`.
"""

from __future__ import annotations

from legato.graph._errors import GraphDefinitionError, GraphError, GraphvizNotFound
from legato.graph.model import STATUSES, Graph, build_graph
from legato.graph.render import render_dot, render_png, render_svg
from legato.graph.status import state_statuses

__all__ = [
    "STATUSES",
    "Graph",
    "GraphDefinitionError",
    "GraphError",
    "GraphvizNotFound",
    "build_graph",
    "render_dot",
    "render_png",
    "render_svg",
    "state_statuses",
]
