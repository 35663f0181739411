"""Laying a graph out with Graphviz's ``dot`` and producing SVG or PNG.

Graphviz is run as a program (``dot -Tsvg`` / ``dot -Tpng``) rather than through
a Python binding: it is the only system requirement, no JavaScript or build step
is involved, and ``LEGATO_DOT`` may point at a ``dot`` that is not on PATH. The
SVG that ``dot`` writes is then given what a web page needs: a ``data-state``
attribute and ``state type-* status-*`` classes on each state's ``<g>``, the
state's name as its ``<title>`` (the tooltip), and a stylesheet keyed on those
classes.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from legato.graph._errors import GraphError, GraphvizNotFound
from legato.graph._labels import wrap
from legato.graph._style import BOX_STYLE, EDGE_STYLE, FONT, STATUS_COLOURS, TYPE_STYLE, svg_stylesheet
from legato.graph.model import Graph, Node, Scope, build_graph
from legato.graph.status import history_statuses

__all__ = ["dot_program", "render_dot", "render_png", "render_svg"]

Definition = str | bytes | Mapping[str, Any]
History = Sequence[Mapping[str, Any]]

_TIMEOUT = 120.0


def _quote(text: str) -> str:
    """A DOT double-quoted string; a newline in ``text`` becomes a centred line break."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def _attrs(values: Mapping[str, str]) -> str:
    parts = []
    for key, value in values.items():
        if key == "label" and value.startswith("<") and value.endswith(">"):
            parts.append(f"label={value}")  # an HTML-like label, already escaped
        else:
            parts.append(f"{key}={_quote(value)}")
    return "[" + ", ".join(parts) + "]"


def _state_label(node: Node) -> str:
    name = html.escape(wrap(node.name, 28), quote=False).replace("\n", "<BR/>")
    second = node.type + (f" · {node.detail}" if node.detail else "")
    detail = html.escape(second, quote=False)
    return f'<<B>{name}</B><BR/><FONT POINT-SIZE="9">{detail}</FONT>>'


def _node_line(node: Node, statuses: Mapping[str, str] | None) -> str:
    if node.kind == "start":
        attrs = {"shape": "circle", "style": "filled", "fillcolor": "#334155", "color": "#334155",
                 "width": "0.22", "label": "", "tooltip": "start"}  # fmt: skip
    elif node.kind == "end":
        attrs = {"shape": "doublecircle", "style": "filled", "fillcolor": "#334155", "color": "#334155",
                 "width": "0.16", "label": "", "tooltip": "end"}  # fmt: skip
    elif node.kind == "join":
        attrs = {"shape": "point", "width": "0.07", "color": "#94a3b8"}
    else:
        shape, style, fill, border = TYPE_STYLE.get(node.type, TYPE_STYLE["Pass"])
        text = "#0f172a"
        if statuses is not None:
            status = statuses.get(node.name, "not-reached")
            fill, border, text = STATUS_COLOURS[status]
            if status == "running":
                style += ",bold"
        attrs = {"shape": shape, "style": style, "fillcolor": fill, "color": border, "fontcolor": text,
                 "label": _state_label(node)}  # fmt: skip
    attrs["id"] = node.id
    return f"{node.id} {_attrs(attrs)};"


def _scope_lines(scope: Scope, statuses: Mapping[str, str] | None, indent: str) -> Iterator[str]:
    for node in scope.nodes:
        yield indent + _node_line(node, statuses)
    for sub in scope.scopes:
        yield f"{indent}subgraph {sub.id} {{"
        attrs = dict(BOX_STYLE[sub.kind])
        attrs.update({"label": sub.label, "id": sub.id, "fontsize": "9", "fontcolor": "#475569",
                      "labeljust": "l", "margin": "10"})  # fmt: skip
        for key, value in attrs.items():
            yield f"{indent}  {key}={_quote(value)};"
        yield from _scope_lines(sub, statuses, indent + "  ")
        yield indent + "}"


def render_dot(definition: Definition | Graph, *, history: History | None = None) -> str:
    """The DOT source of the diagram (what ``dot`` lays out); see :func:`render_svg`."""
    graph = definition if isinstance(definition, Graph) else build_graph(definition)
    statuses = _statuses(graph, history)
    lines = [
        "digraph statemachine {",
        "  graph [rankdir=TB, compound=true, newrank=true, nodesep=0.35, ranksep=0.42, pad=0.2, "
        f'bgcolor="white", fontname="{FONT}"];',
        f'  node [fontname="{FONT}", fontsize=11, margin="0.14,0.06", penwidth=1.2];',
        f'  edge [fontname="{FONT}", fontsize=9, arrowsize=0.7, penwidth=1.1];',
    ]
    lines.extend(_scope_lines(graph.root, statuses, "  "))
    for index, edge in enumerate(graph.edges):
        attrs = dict(EDGE_STYLE[edge.kind])
        attrs["id"] = f"e{index}"
        if edge.label:
            attrs["label"] = edge.label
        if edge.ltail:
            attrs["ltail"] = edge.ltail
        if edge.lhead:
            attrs["lhead"] = edge.lhead
        lines.append(f"  {edge.tail} -> {edge.head} {_attrs(attrs)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _statuses(graph: Graph, history: History | None) -> dict[str, str] | None:
    if history is None:
        return None
    seen = history_statuses(history)
    return {name: seen.get(name, "not-reached") for name in graph.states}


def dot_program() -> str:
    """The ``dot`` to run: ``$LEGATO_DOT``, else ``dot`` on PATH; :class:`GraphvizNotFound` if neither."""
    configured = os.environ.get("LEGATO_DOT")
    found = shutil.which(configured or "dot")
    if found is None:
        raise GraphvizNotFound(configured or "dot")
    return found


def _run_dot(source: str, fmt: str) -> bytes:
    program = dot_program()
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise GraphvizNotFound(program) from None
    except subprocess.TimeoutExpired:
        raise GraphError(f"Graphviz took more than {_TIMEOUT:.0f}s to lay the graph out") from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise GraphError(f"Graphviz failed to lay the graph out: {message}")
    return done.stdout


def render_png(definition: Definition, *, history: History | None = None) -> bytes:
    """The diagram as PNG bytes, laid out and drawn by Graphviz (see :func:`render_svg`)."""
    return _run_dot(render_dot(definition, history=history), "png")


_NODE_G = re.compile(r'<g id="([a-z_]+\d*)" class="(node|edge|cluster)">\n<title>[^<]*</title>')


def render_svg(definition: Definition, *, history: History | None = None) -> str:
    """The diagram as a standalone SVG document (text, starting at ``<svg``).

    Every state, nested ones included, is one ``<g class="state type-<type> [status-<status>]"
    data-state="<name>">`` element; the other nodes are the ``start``/``end`` markers and
    the ``join`` points of Parallel and Map boxes. Edges carry ``edge edge-<kind>``
    (``next``, ``choice``, ``default``, ``catch``, ``start``, ``end``). With ``history``
    (GetExecutionHistory events) each state gets its status class and colours.
    Raises :class:`~legato.graph.GraphDefinitionError` for an invalid definition and
    :class:`~legato.graph.GraphvizNotFound` without Graphviz.
    """
    graph = build_graph(definition)
    statuses = _statuses(graph, history)
    raw = _run_dot(render_dot(graph, history=history), "svg").decode("utf-8")
    by_id = {node.id: node for node in graph.states.values()}
    edge_kinds = {f"e{index}": edge.kind for index, edge in enumerate(graph.edges)}

    def decorate(match: re.Match[str]) -> str:
        element_id, role = match.group(1), match.group(2)
        node = by_id.get(element_id)
        if node is not None:
            classes = f"state type-{node.type.lower()}"
            if statuses is not None:
                classes += f" status-{statuses[node.name]}"
            name = html.escape(node.name)
            return f'<g id="{element_id}" class="{classes}" data-state="{name}">\n<title>{name}</title>'
        if role == "edge":
            edge_kind = edge_kinds.get(element_id, "next")
            return f'<g id="{element_id}" class="edge edge-{edge_kind}">\n<title>{edge_kind}</title>'
        if role == "node":
            marker = "join" if element_id.startswith("j") else "marker " + element_id
            return f'<g id="{element_id}" class="{marker}">\n<title>{marker.split()[-1]}</title>'
        return f'<g id="{element_id}" class="cluster">\n<title>{element_id}</title>'

    body = _NODE_G.sub(decorate, raw)
    start = body.index("<svg")
    svg = body[start:]
    head_end = svg.index(">") + 1
    style = f"<style>\n{svg_stylesheet()}\n</style>"
    return svg[: head_end - 1] + ' class="legato-graph">\n' + style + svg[head_end:]
