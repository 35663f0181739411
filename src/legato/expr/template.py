"""JSONPath payload templates: Parameters, ItemSelector, ResultSelector, Assign.

A key ending in ``.$`` takes its value from a path or an intrinsic function; its
name loses the suffix. The template is analysed once: constant sub-trees are
kept as they are and returned without copying, and only the dynamic leaves are
evaluated on each run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from legato import _json
from legato.errors import EvaluationError
from legato.expr.paths import PathNotFound, VariableNotFound, compile_path
from legato.expr.scope import Scope

Evaluator = Callable[[Scope], Any]


def _path_evaluator(key: str, text: str) -> Evaluator:
    path = compile_path(text)

    def evaluate(scope: Scope) -> Any:
        try:
            return path.resolve(scope)
        except PathNotFound:
            raise EvaluationError(
                "States.Runtime",
                f"The JSONPath '{text}' specified for the field '{key}' could not be found in the input "
                f"'{_json.dumps(scope.input)}'",
                key,
            ) from None
        except VariableNotFound as exc:
            raise EvaluationError(
                "States.Runtime",
                f"The JSONPath '{text}' specified for the field '{key}' references an undefined variable "
                f"'{exc.name}'",
                key,
            ) from None

    return evaluate


def _intrinsic_evaluator(text: str) -> Evaluator:
    from legato.expr.intrinsics import compile_intrinsic

    return compile_intrinsic(text).evaluate


def dynamic_value(key: str, text: Any) -> Evaluator:
    """The evaluator for the value of a ``.$`` key: a path or an intrinsic call."""
    if not isinstance(text, str):
        raise ValueError(f"the value of '{key}' must be a string holding a path or an intrinsic function")
    if text.startswith("$"):
        return _path_evaluator(key, text)
    return _intrinsic_evaluator(text)


class Template:
    """A compiled payload template."""

    __slots__ = ("_eval", "constant", "is_constant", "source")

    def __init__(self, source: Any) -> None:
        self.source = source
        ev = _compile(source)
        self.is_constant = ev is None
        self.constant = source
        self._eval = ev

    def evaluate(self, scope: Scope) -> Any:
        """The payload for ``scope``; raises :class:`EvaluationError`."""
        if self._eval is None:
            return self.constant
        return self._eval(scope)


def _compile(node: Any) -> Evaluator | None:
    """An evaluator for ``node``, or None when the node is constant."""
    if isinstance(node, dict):
        parts: list[tuple[str, Any, Evaluator | None]] = []
        dynamic = False
        for key, value in node.items():
            if key.endswith(".$") and len(key) > 2:
                parts.append((key[:-2], None, dynamic_value(key, value)))
                dynamic = True
            else:
                ev = _compile(value)
                if ev is not None:
                    dynamic = True
                parts.append((key, value, ev))
        if not dynamic:
            return None
        frozen = tuple(parts)

        def eval_dict(scope: Scope) -> Any:
            out: dict[str, Any] = {}
            for k, const, ev in frozen:
                out[k] = const if ev is None else ev(scope)
            return out

        return eval_dict
    if isinstance(node, list):
        items = [(v, _compile(v)) for v in node]
        if all(ev is None for _, ev in items):
            return None
        frozen_items = tuple(items)

        def eval_list(scope: Scope) -> Any:
            return [const if ev is None else ev(scope) for const, ev in frozen_items]

        return eval_list
    return None


def compile_template(source: Any) -> Template:
    """Compiles a payload template (any JSON value)."""
    return Template(source)
