"""A state machine as a graph: nodes, edges and nested boxes, ready to lay out.

:func:`build_graph` reads a definition (JSON/YAML text or a parsed mapping),
validates it with :mod:`legato.asl.validate`, and returns a :class:`Graph`:
one :class:`Node` per state, a start and an end marker, a join point at the
bottom of every Parallel and Map box, and an :class:`Edge` per transition,
Choice rule, Default and Catch. Parallel branches and Map item processors are
:class:`Scope` trees, drawn as nested boxes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from legato.errors import DefinitionError
from legato.graph._errors import GraphDefinitionError
from legato.graph._labels import choice_rule_text, shorten, state_detail, wrap

__all__ = ["STATUSES", "Edge", "EdgeKind", "Graph", "Node", "NodeKind", "Scope", "ScopeKind", "build_graph"]

STATUSES = ("succeeded", "failed", "caught", "running", "not-reached")
"""What can have happened to a state in an execution, as :func:`legato.graph.state_statuses` reports it."""

NodeKind = Literal["state", "start", "end", "join"]
EdgeKind = Literal["start", "next", "choice", "default", "catch", "end"]
ScopeKind = Literal["machine", "parallel", "branch", "map"]


@dataclass(frozen=True, slots=True)
class Node:
    """One box or marker. ``kind`` is ``state`` for a state; ``type`` its ASL ``Type``."""

    id: str
    kind: NodeKind
    name: str = ""
    type: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Edge:
    """An arrow from ``tail`` to ``head`` (node ids).

    ``ltail``/``lhead`` name the box the arrow leaves or enters, when it starts or
    ends at a Parallel or Map state (drawn as a box).
    """

    tail: str
    head: str
    kind: EdgeKind
    label: str = ""
    ltail: str = ""
    lhead: str = ""


@dataclass(slots=True)
class Scope:
    """A box: the whole machine, a Parallel or Map state, or one Parallel branch."""

    id: str
    kind: ScopeKind
    label: str = ""
    nodes: list[Node] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)


@dataclass(slots=True)
class Graph:
    """The drawable form of one definition. ``states`` maps each state name to its node."""

    root: Scope
    edges: list[Edge]
    states: dict[str, Node]
    comment: str = ""


@dataclass(slots=True)
class _Builder:
    edges: list[Edge] = field(default_factory=list)
    states: dict[str, Node] = field(default_factory=dict)
    counter: int = 0

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


def build_graph(definition: str | bytes | Mapping[str, Any]) -> Graph:
    """The graph of ``definition``; raises :class:`GraphDefinitionError` when it is not valid ASL."""
    doc = _valid_document(definition)
    builder = _Builder()
    root = Scope("root", "machine")
    start = Node("start", "start")
    end = Node("end", "end")
    root.nodes.append(start)
    _add_scope(builder, doc, root, entry=start.id, exit=end.id, top=True)
    root.nodes.append(end)
    comment = doc.get("Comment")
    return Graph(root, builder.edges, builder.states, comment if isinstance(comment, str) else "")


def _valid_document(definition: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    from legato.asl.load import load_document
    from legato.asl.validate import validate

    try:
        doc = load_document(definition)
    except DefinitionError as exc:
        raise GraphDefinitionError(exc.diagnostics) from None
    errors = [d for d in validate(doc) if d.severity == "ERROR"]
    if errors:
        raise GraphDefinitionError(errors)
    assert isinstance(doc, Mapping)  # validate() reports anything else
    return doc


@dataclass(frozen=True, slots=True)
class _Target:
    node: str
    box: str = ""


def _add_scope(
    builder: _Builder, container: Mapping[str, Any], scope: Scope, *, entry: str, exit: str, top: bool
) -> None:
    """Adds the states of one ``StartAt``/``States`` container, drawn inside ``scope``."""
    states: Mapping[str, Mapping[str, Any]] = container["States"]
    # First pass: every state's node and box, so that edges can point forward.
    targets: dict[str, _Target] = {}
    exits: dict[str, _Target] = {}
    for name, state in states.items():
        kind = state["Type"]
        node = Node(builder.new_id("s"), "state", name, kind, state_detail(state))
        builder.states[name] = node
        if kind in ("Parallel", "Map"):
            box = Scope(builder.new_id("cluster_"), "parallel" if kind == "Parallel" else "map")
            box.label = "for each item" if kind == "Map" else ""
            box.nodes.append(node)
            join = Node(builder.new_id("j"), "join")
            _add_children(builder, state, box, node.id, join.id)
            box.nodes.append(join)
            scope.scopes.append(box)
            targets[name] = _Target(node.id, box.id)
            exits[name] = _Target(join.id, box.id)
        else:
            scope.nodes.append(node)
            targets[name] = exits[name] = _Target(node.id)

    first = targets[container["StartAt"]]
    builder.edges.append(Edge(entry, first.node, "start", lhead=first.box))
    for name, state in states.items():
        source = exits[name]

        def arrow(target: str, kind: EdgeKind, label: str = "", *, source: _Target = source) -> None:
            head = targets[target]
            builder.edges.append(Edge(source.node, head.node, kind, label, source.box, head.box))

        kind = state["Type"]
        if kind == "Choice":
            for rule in state.get("Choices", ()):
                arrow(rule["Next"], "choice", wrap(choice_rule_text(rule)))
            if "Default" in state:
                arrow(state["Default"], "default", "Default")
        elif isinstance(state.get("Next"), str):
            arrow(state["Next"], "next")
        for catcher in state.get("Catch", ()) or ():
            errors = ", ".join(str(e) for e in catcher.get("ErrorEquals", ()))
            arrow(catcher["Next"], "catch", wrap(shorten(errors, 60)))
        if state.get("End") is True or kind == "Succeed" or (kind == "Fail" and top):
            builder.edges.append(Edge(source.node, exit, "end", ltail=source.box))


def _add_children(builder: _Builder, state: Mapping[str, Any], box: Scope, header: str, join: str) -> None:
    """Adds a Parallel state's branches, or a Map state's item processor, inside its box."""
    if state["Type"] == "Parallel":
        for index, branch in enumerate(state.get("Branches", ())):
            sub = Scope(builder.new_id("cluster_"), "branch", f"Branch {index + 1}")
            _add_scope(builder, branch, sub, entry=header, exit=join, top=False)
            box.scopes.append(sub)
        return
    processor = state.get("ItemProcessor", state.get("Iterator"))
    if isinstance(processor, Mapping):
        _add_scope(builder, processor, box, entry=header, exit=join, top=False)
