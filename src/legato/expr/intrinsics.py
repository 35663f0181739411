"""The 18 intrinsic functions of Step Functions (``States.Format`` ...), compiled once.

:func:`compile_intrinsic` parses a call, checks what can be checked before
running (function names, argument counts, the types of literal arguments) and
builds a tree of small frozen nodes; :meth:`Intrinsic.evaluate` walks it.

Behaviour follows the Developer Guide and, where it is silent, the AWS-recorded
conformance cases:

- a failure is ``States.Runtime`` (AWS reports intrinsic failures under that
  name, not ``States.IntrinsicFailure``) with the cause ``The function
  '<whole call>' had the following error: <detail>``;
- a path argument that selects nothing fails with the detail ``The JsonPath
  argument for the field '<path>' could not be found in the input '<input>'``;
- "integer" arguments accept any number and round it half up (Java's
  ``Math.round``): ``States.MathAdd(1.49, 1.5)`` is 3;
- ``States.Format`` prints objects and arrays the way Java prints maps and lists
  (``{a=1, b=[]}``) and numbers as Java does (``1.1``, ``1.0E10``);
- ``States.StringSplit`` splits at any of the delimiter's characters and drops
  empty pieces (Java's ``StringTokenizer``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from legato.errors import EvaluationError
from legato.expr._intrinsic_functions import (
    FUNCTIONS,
    HASHES,
    MAX_ENCODE_CHARS,
    MAX_HASH_CHARS,
    MAX_RANGE_ITEMS,
    ArgumentNotFound,
    Checker,
    Failure,
    Signature,
    WrongType,
    any_value,
    format_value,
    json_type,
    utf16_length,
)
from legato.expr._intrinsic_parse import (
    UNMATCHED_BRACE,
    CallNode,
    IntrinsicSyntaxError,
    LiteralNode,
    Node,
    PathNode,
    looks_like_call,
    parse,
)
from legato.expr.paths import Path, PathNotFound, VariableNotFound
from legato.expr.scope import Scope

FUNCTION_NAMES: tuple[str, ...] = tuple(FUNCTIONS)
"""The names of the 18 intrinsic functions."""


# --- evaluation tree ------------------------------------------------------------------


class _Eval(Protocol):
    """A node of the evaluation tree."""

    def eval(self, scope: Scope) -> Any: ...


@dataclass(frozen=True, slots=True)
class _Const:
    value: Any

    def eval(self, scope: Scope) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class _Ref:
    path: Path

    def eval(self, scope: Scope) -> Any:
        try:
            return self.path.resolve(scope)
        except (PathNotFound, VariableNotFound):
            raise ArgumentNotFound(self.path) from None


@dataclass(frozen=True, slots=True)
class _Call:
    """A call: evaluate the arguments, check the typed ones, then run the function.

    ``checks`` lists only the arguments that need a check at run time (literals
    were checked at compile time), so an all-literal or untyped call pays nothing.
    """

    name: str
    impl: Callable[[list[Any]], Any]
    args: tuple[_Eval, ...]
    checks: tuple[tuple[int, Checker], ...]

    def eval(self, scope: Scope) -> Any:
        values = [node.eval(scope) for node in self.args]
        for i, check in self.checks:
            try:
                values[i] = check(values[i])
            except WrongType as exc:
                raise Failure(
                    f"Invalid arguments in {self.name}: {_wrong_type(self.name, i, exc)}."
                ) from None
        return self.impl(values)


@dataclass(frozen=True, slots=True)
class _FormatLiteral:
    """States.Format with a literal template, split into pieces at compile time."""

    template: tuple[str, ...]
    args: tuple[_Eval, ...]

    def eval(self, scope: Scope) -> str:
        template = self.template
        parts = [template[0]]
        for node, piece in zip(self.args, template[1:], strict=True):
            parts.append(format_value(node.eval(scope)))
            parts.append(piece)
        return "".join(parts)


def _wrong_type(name: str, index: int, exc: WrongType) -> str:
    return f"argument {index + 1} of {name} must be {exc.expected}, but it is {json_type(exc.value)}"


# --- compiling -------------------------------------------------------------------------


def _build(node: Node, text: str) -> _Eval:
    if isinstance(node, LiteralNode):
        return _Const(node.value)
    if isinstance(node, PathNode):
        return _Ref(node.path)
    return _build_call(node, text)


def _build_call(node: CallNode, text: str) -> _Eval:
    signature = FUNCTIONS.get(node.name)
    if signature is None:
        raise IntrinsicSyntaxError(
            text, node.position, f"unknown function {node.name!r}; the functions are {', '.join(FUNCTIONS)}"
        )
    _check_count(node, signature, text)
    args = node.args
    checkers = [
        signature.params[i] if i < len(signature.params) else signature.rest or any_value
        for i in range(len(args))
    ]
    built: list[_Eval] = []
    checks: list[tuple[int, Checker]] = []
    for i, (arg, check) in enumerate(zip(args, checkers, strict=True)):
        if isinstance(arg, LiteralNode):
            try:
                value = check(arg.value)
            except WrongType as exc:
                raise IntrinsicSyntaxError(text, arg.position, _wrong_type(node.name, i, exc)) from None
            _check_literal(node.name, i, value, text, arg.position)
            built.append(_Const(value))
        else:
            built.append(_build(arg, text))
            if check is not any_value:
                checks.append((i, check))
    _check_call(node, text)
    if node.name == "States.Format" and isinstance(args[0], LiteralNode):
        template = args[0].template
        assert template is not None  # _check_call rejected a broken template
        return _FormatLiteral(template, tuple(built[1:]))
    return _Call(node.name, signature.impl, tuple(built), tuple(checks))


def _check_count(node: CallNode, signature: Signature, text: str) -> None:
    count = len(node.args)
    most = None if signature.rest is not None else len(signature.params)
    if signature.required <= count and (most is None or count <= most):
        return
    if most is None:
        wanted = f"at least {signature.required}"
    elif most == signature.required:
        wanted = f"exactly {most}"
    else:
        wanted = f"{signature.required} to {most}"
    raise IntrinsicSyntaxError(
        text,
        node.position,
        f"{node.name} takes {wanted} argument(s), but {count} {'was' if count == 1 else 'were'} given",
    )


def _check_literal(name: str, index: int, value: Any, text: str, position: int) -> None:
    """Checks on literal arguments beyond their type, so they fail at compile time."""
    problem = None
    if name == "States.ArrayPartition" and index == 1 and value <= 0:
        problem = "the chunk size must be a positive integer"
    elif name == "States.ArrayGetItem" and index == 1 and value < 0:
        problem = "the index must not be negative"
    elif name == "States.ArrayRange" and index == 2 and value == 0:
        problem = "the step must not be 0"
    elif name == "States.JsonMerge" and index == 2 and value is not False:
        problem = "deep merging is not supported; the third argument must be false"
    elif name == "States.Hash" and index == 1 and value not in HASHES:
        problem = f"unsupported algorithm {value!r}; use one of {', '.join(HASHES)}"
    elif name in ("States.Base64Encode", "States.Base64Decode") and utf16_length(value) > MAX_ENCODE_CHARS:
        problem = f"the input string has more than {MAX_ENCODE_CHARS} characters"
    elif name == "States.Hash" and index == 0 and utf16_length(value) > MAX_HASH_CHARS:
        problem = f"the input data has more than {MAX_HASH_CHARS} characters"
    if problem is not None:
        raise IntrinsicSyntaxError(text, position, f"invalid argument {index + 1} of {name}: {problem}")


def _check_call(node: CallNode, text: str) -> None:
    """Whole-call checks: argument kinds that no literal can have, Format templates."""
    name, args = node.name, node.args
    if name == "States.JsonToString" and not isinstance(args[0], PathNode):
        raise IntrinsicSyntaxError(
            text, args[0].position, "the argument of States.JsonToString must be a path"
        )
    if name == "States.Format" and isinstance(args[0], LiteralNode):
        template = args[0].template
        if template is None:
            raise IntrinsicSyntaxError(
                text, args[0].position, f"invalid States.Format template: {UNMATCHED_BRACE}"
            )
        if len(template) - 1 != len(args) - 1:
            raise IntrinsicSyntaxError(
                text,
                node.position,
                f"the States.Format template has {len(template) - 1} '{{}}' placeholder(s) but "
                f"{len(args) - 1} value argument(s) follow it",
            )


# --- public interface ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intrinsic:
    """A compiled intrinsic function call; evaluate it with :meth:`evaluate`."""

    text: str
    _root: _Eval

    def evaluate(self, scope: Scope) -> Any:
        """The call's value in ``scope``.

        Raises :class:`~legato.errors.EvaluationError` (``States.Runtime``)
        with AWS's cause text, without the state prefix the runtime adds.
        """
        try:
            return self._root.eval(scope)
        except Failure as failure:
            cause = f"The function '{self.text}' had the following error: {failure.describe(scope)}"
            raise EvaluationError("States.Runtime", cause) from None


def is_intrinsic(text: str) -> bool:
    """True when ``text`` looks like an intrinsic call (``States.Name(...``).

    It says nothing of validity: :func:`compile_intrinsic` decides that.
    """
    return isinstance(text, str) and looks_like_call(text.lstrip())


@lru_cache(maxsize=4096)
def compile_intrinsic(text: str) -> Intrinsic:
    """Parses and checks an intrinsic call once; the result is cached.

    Raises :class:`IntrinsicSyntaxError` for bad syntax, unknown functions,
    wrong argument counts, nesting deeper than 10, and literal arguments of the
    wrong type or value.
    """
    return Intrinsic(text, _build_call(parse(text), text))


__all__ = [
    "FUNCTION_NAMES",
    "MAX_ENCODE_CHARS",
    "MAX_HASH_CHARS",
    "MAX_RANGE_ITEMS",
    "Intrinsic",
    "IntrinsicSyntaxError",
    "compile_intrinsic",
    "is_intrinsic",
]
