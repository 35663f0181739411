"""Compiling a definition once, and caching the result by content."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from legato import _json
from legato.asl.model import Graph, build_graph
from legato.errors import DefinitionError, Diagnostic


@dataclass(frozen=True, slots=True)
class Machine:
    """A validated, compiled state machine definition."""

    definition_text: str
    document: Any
    graph: Graph

    @property
    def query_language(self) -> str:
        """The machine's top-level query language."""
        return self.graph.query_language


_CACHE: OrderedDict[str, Machine] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 512


def _validate(doc: Any) -> None:
    from legato.asl.validate import check

    check(doc)


def compile_machine(definition: str | bytes | Mapping[str, Any]) -> Machine:
    """Validates and compiles ``definition`` (JSON or YAML text, or a parsed dict).

    Raises :class:`DefinitionError` listing every problem. The compiled machine
    is cached by the definition's text, so repeated runs compile once.
    """
    if isinstance(definition, Mapping):
        text = _json.dumps(definition)
    elif isinstance(definition, bytes):
        text = definition.decode("utf-8", errors="replace")
    elif isinstance(definition, str):
        text = definition
    else:
        raise DefinitionError(
            [Diagnostic("SCHEMA_VALIDATION_FAILED", "the definition must be JSON text or a mapping", "/")]
        )
    with _CACHE_LOCK:
        hit = _CACHE.get(text)
        if hit is not None:
            _CACHE.move_to_end(text)
            return hit
    from legato.asl.load import load_document

    doc = load_document(definition if isinstance(definition, Mapping) else text)
    _validate(doc)
    try:
        graph = build_graph(doc)
    except DefinitionError:
        raise
    except Exception as exc:  # a definition the validator let through but the model cannot hold
        raise DefinitionError([Diagnostic("SCHEMA_VALIDATION_FAILED", str(exc), "/")]) from None
    machine = Machine(text, doc, graph)
    with _CACHE_LOCK:
        _CACHE[text] = machine
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return machine
