"""JSONata for JSONata states: expressions, templates, and Step Functions' rules.

A string field of a JSONata state is an expression when it is ``"{% ... %}"``; other
strings are literals. Expressions see ``$states`` (``input``, ``context`` and, when
present, ``result`` and ``errorOutput``) and the workflow variables as ``$name``.
Step Functions adds ``$partition``, ``$range``, ``$hash``, ``$random`` (with an optional
seed), ``$uuid`` and ``$parse``, removes ``$eval``, and follows JSONata 2.0.6.

Evaluation runs on jsonatapy. Its compiled expressions work only on the thread that
compiled them, so each thread keeps its own cache of compiled programs. Bindings are
converted in full on every call, so ``$states`` is handed over inside the input
document (``$states`` is read as ``$$.__lgstates``; the document is read lazily) and only the
variables an expression names are bound. A template with several expressions is
evaluated as one program, so a state's ``Arguments`` or ``Output`` costs one call.

Values are plain JSON-compatible Python objects, treated as immutable: results are
fresh copies (they never share a dict or list with the inputs), while the constant
parts of a template are shared between results.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from typing import Any, Final

import jsonatapy

from legato import _json
from legato.errors import EvaluationError
from legato.expr import _jsonata_paths as _paths
from legato.expr import _jsonata_support as _support

__all__ = [
    "UNDEFINED",
    "JsonataExpression",
    "JsonataSyntaxError",
    "JsonataTemplate",
    "compile_expression",
    "compile_template",
    "is_jsonata_string",
    "unexpected_type_error",
]

QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"


class _Undefined:
    """The type of :data:`UNDEFINED`."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()
"""JSONata's *undefined* (no value at all), as opposed to JSON ``null`` (``None``)."""


class _Function:
    def __repr__(self) -> str:
        return "FUNCTION"


FUNCTION: Final = _Function()
"""What a program gives for an expression whose value is a function (not a JSON value)."""


class JsonataSyntaxError(ValueError):
    """A JSONata expression that does not parse.

    ``code`` is JSONata's error code (``S0202`` ...), ``expression`` the expression
    text (without ``{% %}``), ``message`` JSONata's description of the problem.
    """

    def __init__(self, expression: str, code: str, message: str) -> None:
        super().__init__(expression, code, message)
        self.expression = expression
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"Invalid JSONata expression '{self.expression}': {self.code}: {self.message}"


def is_jsonata_string(value: Any) -> bool:
    """True for a string that is a JSONata expression: ``"{% ... %}"``.

    As in Step Functions, the string must start with ``{%`` and end with ``%}``
    exactly; with a space before ``{%`` or after ``%}`` it is a literal string.
    """
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


# ------------------------------------------------------------------------- messages


def _prefix(text: str, field: str) -> str:
    return f"The JSONata expression '{text}' specified for the field '{field}'"


def _undefined_error(text: str, field: str) -> EvaluationError:
    cause = f"{_prefix(text, field)} returned nothing (undefined)."
    return EvaluationError(QUERY_EVALUATION_ERROR, cause, field)


def _unsupported_error(text: str, field: str) -> EvaluationError:
    cause = f"{_prefix(text, field)} returned an unsupported result type."
    return EvaluationError(QUERY_EVALUATION_ERROR, cause, field)


def _runtime_error(text: str, field: str, code: str | None, message: str) -> EvaluationError:
    detail = message if code is None else f"{code}: {message}"
    cause = f"{_prefix(text, field)} threw an error during evaluation. {detail}"
    return EvaluationError(QUERY_EVALUATION_ERROR, cause, field)


_JSON_TYPES: Final = {bool: "boolean", str: "string", dict: "object", list: "array"}


def unexpected_type_error(text: str, field: str, expected: str, value: Any) -> EvaluationError:
    """The error for an expression whose value has the wrong JSON type for its field.

    ``expected`` is a JSON type name (``array``, ``number`` ...). Step Functions says,
    for ``Items``: ``The JSONata expression '1' specified for the field 'Items' returned
    an unexpected result type. Expected 'array', but was 'number' for value: 1``.
    """
    if value is None:
        actual = "null"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        actual = "number"
    else:
        actual = _JSON_TYPES.get(type(value), type(value).__name__)
    cause = (
        f"{_prefix(text, field)} returned an unexpected result type. "
        f"Expected '{expected}', but was '{actual}' for value: {_json.dumps(value)}"
    )
    return EvaluationError(QUERY_EVALUATION_ERROR, cause, field)


_CODE = re.compile(
    r"^(?:Parse error: )?(?:Invalid syntax: )?(?:host function raised \w+: )?([A-Z]\d{4}):? ?(.*)$", re.S
)

# Messages as node's JSONata 2.0.6 words them, where jsonatapy's differ.
_NODE_MESSAGES: Final = {
    "T1006": "Attempted to invoke a non-function",
    "D3001": "Attempting to invoke string function on Infinity or NaN",
    "D3010": "Second argument of replace function cannot be an empty string",
    "D3020": "Third argument of split function must evaluate to a positive number",
    "S0106": "Comment has no closing tag",
}
_OPERAND = re.compile(r"^The (left|right) side of the (\S+) operator must evaluate to a number$")
_CAST = re.compile(r"^Cannot convert '(.*)' to number$", re.S)


def _split_error(raw: str) -> tuple[str | None, str]:
    """Splits a jsonatapy error text into JSONata's code and node's wording."""
    match = _CODE.match(raw)
    if match is None:
        if "Unclosed comment" in raw:
            return "S0106", _NODE_MESSAGES["S0106"]
        return None, raw.removeprefix("Parse error: ")
    code, message = match.group(1), match.group(2)
    if code in _NODE_MESSAGES:
        return code, _NODE_MESSAGES[code]
    if code in ("T2001", "T2002") and (m := _OPERAND.match(message)):
        return code, f'The {m.group(1)} side of the "{m.group(2)}" operator must evaluate to a number'
    if code == "D3030" and (m := _CAST.match(message)):
        return code, f"Unable to cast value to a number: {_json.dumps(m.group(1))}"
    if code == "D3138":
        message = re.sub(r" \(\d+ values\)$", "", message)
    return code, message


# --------------------------------------------------------------- per-thread compiling


class _ThreadCache(threading.local):
    def __init__(self) -> None:
        self.programs: dict[str, Any] = {}


_threads = _ThreadCache()
_THREAD_CACHE_SIZE: Final = 2048


def _compiled(text: str) -> Any:
    """This thread's compiled copy of ``text``, with Step Functions' functions."""
    cache = _threads.programs
    program = cache.get(text)
    if program is None:
        program = jsonatapy.compile(text)
        for name, function, replaces in _support.HOST_FUNCTIONS:
            if replaces:
                program.register_override(name, function)
            else:
                program.register(name, function)
        if len(cache) >= _THREAD_CACHE_SIZE:
            del cache[next(iter(cache))]
        cache[text] = program
    return program


def _check_syntax(text: str) -> None:
    if not text:
        raise JsonataSyntaxError(text, "S0207", "Unexpected end of expression")
    try:
        _compiled(text)
    except ValueError as exc:
        code, message = _split_error(str(exc))
        raise JsonataSyntaxError(text, code or "S0201", message) from None


# ---------------------------------------------------------------------- programs


class _Failure(Exception):
    """A JSONata error raised while a program ran; not yet tied to one expression."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class _Program:
    """Several expressions evaluated as one jsonatapy call.

    The program assigns each expression's value to a variable, then returns an object
    holding every value (``v<i>``) and its type (``t<i>``): a missing ``v<i>`` is
    undefined, and ``t<i> = 'function'`` tells a function from ``null``.
    """

    __slots__ = ("_binding_states", "_data_mode", "_fast", "_names", "_states_parts", "count", "text")

    def __init__(self, analyses: list[_support.Analysis]) -> None:
        self.count = len(analyses)
        self._names = tuple(sorted(set().union(*(a.names for a in analyses)) - {"states"}))
        self._binding_states = any(a.uses_states for a in analyses)
        # Without `$states` there is no document: the context stays undefined.
        self._data_mode = self._binding_states and all(a.data_text is not None for a in analyses)
        parts: set[str] | None = set()
        for a in analyses:
            if a.uses_states and parts is not None:
                parts = None if a.states_parts is None else parts | a.states_parts
        self._states_parts = None if parts is None else tuple(sorted(parts))
        self.text = self._build(analyses)
        try:
            _compiled(self.text)
        except ValueError:
            # The lexer misread something; evaluate with `$states` as a variable.
            self._data_mode = False
            self.text = self._build(analyses)
            _compiled(self.text)
        # In data mode the values alone come first (half the work): an undefined value
        # is a missing key; a null may also be a function, which only the typed program
        # tells apart, so a null sends the call to it.
        self._fast: str | None = None
        if self._data_mode:
            fast = self._build_untyped(analyses)
            try:
                _compiled(fast)
                self._fast = fast
            except ValueError:
                pass

    def _build(self, analyses: list[_support.Analysis]) -> str:
        parts = ["("]
        if any(a.uses_string for a in analyses):
            parts.append(_support.STRING_PRELUDE)
        fields = []
        for i, a in enumerate(analyses):
            body = a.data_text if self._data_mode and a.data_text is not None else a.binding_text
            parts.append(f"$__lg{i} := ({body});")
            fields.append(f'"v{i}": $__lg{i}, "t{i}": $type($__lg{i})')
        parts.append("{" + ", ".join(fields) + "})")
        return "".join(parts)

    def _build_untyped(self, analyses: list[_support.Analysis]) -> str:
        parts = ["("]
        if any(a.uses_string for a in analyses):
            parts.append(_support.STRING_PRELUDE)
        fields = []
        for i, a in enumerate(analyses):
            body = a.data_text if a.data_text is not None else a.binding_text
            fields.append(f'"v{i}": ({body})')
        parts.append("{" + ", ".join(fields) + "})")
        return "".join(parts)

    def run(self, states: Mapping[str, Any], variables: Mapping[str, Any], now: float | None) -> list[Any]:
        """Evaluates the program: each expression's value, :data:`UNDEFINED` when it gave
        nothing, :data:`FUNCTION` when it gave a function. Raises :class:`_Failure` on a
        JSONata error."""
        bindings = {name: variables[name] for name in self._names if name in variables}
        _support.set_clock(now)
        try:
            return self._values(states, bindings)
        except (TypeError, OverflowError):
            # Values jsonatapy cannot take (integers beyond 64 bits, tuples ...):
            # convert them as JavaScript would see them, then try once more.
            return self._values(_plain(states), _plain(bindings))

    def _values(self, states: Mapping[str, Any], bindings: dict[str, Any]) -> list[Any]:
        if self._fast is not None:
            raw = self._call(states, bindings, self._fast)
            values = [raw.get(f"v{i}", UNDEFINED) for i in range(self.count)]
            if None not in values:
                return values
        raw = self._call(states, bindings, self.text)
        out = []
        for i in range(self.count):
            json_type = raw.get(f"t{i}")
            out.append(
                UNDEFINED if json_type is None else FUNCTION if json_type == "function" else raw[f"v{i}"]
            )
        return out

    def _call(self, states: Mapping[str, Any], bindings: dict[str, Any], text: str) -> dict[str, Any]:
        program = _compiled(text)
        try:
            if self._data_mode:
                # Only the parts of `$states` the expressions read cross into jsonatapy
                # (the context object can be large: it holds the execution's input).
                parts = self._states_parts
                if parts is None:
                    doc = states if isinstance(states, dict) else dict(states)
                else:
                    doc = {k: states[k] for k in parts if k in states}
                data = {_support.STATES_KEY: doc}
                result: dict[str, Any] = program.evaluate(data, bindings or None)
                return result
            if self._binding_states:
                if self._states_parts is None:
                    bindings["states"] = dict(states)
                else:
                    bindings["states"] = {k: states[k] for k in self._states_parts if k in states}
            raw = program.evaluate_json_or_none(None, bindings or None)
            parsed: dict[str, Any] = _json.loads(raw)
            return parsed
        except ValueError as exc:
            code, message = _split_error(str(exc))
            raise _Failure(code, message) from None
        except (TypeError, OverflowError):
            raise
        except BaseException as exc:
            # pyo3's PanicException derives from BaseException: never let it pass as
            # a control-flow exception (it means a compiled object crossed threads).
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            raise RuntimeError(f"jsonatapy failed: {type(exc).__name__}: {exc}") from exc


def _plain(value: Any) -> Any:
    """``value`` with what jsonatapy refuses replaced as JavaScript would hold it."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return float(value)
    return value


def _copy(value: Any) -> Any:
    """A copy of a JSON value that shares no dict or list with it."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# ------------------------------------------------------------------- expressions


class JsonataExpression:
    """One compiled JSONata expression (the text inside ``{% %}``).

    ``text`` is the expression as Step Functions quotes it in error messages (trimmed);
    ``variables`` the names of the workflow variables it references (built-in
    functions, ``$states`` and names it assigns or declares itself are left out).
    """

    __slots__ = ("_analysis", "_path", "_plain", "_program", "text", "variables")

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        _check_syntax(self.text)
        self._analysis = _support.analyse(self.text)
        self.variables: frozenset[str] = self._analysis.variables
        self._program: _Program | None = None
        self._plain = _paths.parse_path(self.text)
        self._path = _paths.compile_path(self.text) if self._plain is not None else None

    def __repr__(self) -> str:
        return f"JsonataExpression({self.text!r})"

    @property
    def _run(self) -> _Program:
        if self._program is None:
            self._program = _Program([self._analysis])
        return self._program

    def evaluate(
        self,
        states: Mapping[str, Any],
        variables: Mapping[str, Any],
        *,
        field: str,
        now: float | None = None,
    ) -> Any:
        """Evaluates the expression; returns :data:`UNDEFINED` when it yields nothing.

        The value may share dicts and lists with ``states`` and ``variables``: the engine
        never changes a JSON value in place (as with JSONPath's selections).

        ``field`` names the field in error messages; ``now`` is the clock's epoch
        seconds for ``$now()``/``$millis()`` (``None``: real time). Raises
        :class:`EvaluationError` (``States.QueryEvaluationError``) when JSONata
        fails or the value is a function.
        """
        if self._path is not None:
            value = self._path(states, variables)
            if value is not _paths.MISS:
                return value
        program = self._run
        try:
            value = program.run(states, variables, now)[0]
        except _Failure as failure:
            raise _runtime_error(self.text, field, failure.code, failure.message) from None
        if value is FUNCTION:
            raise _unsupported_error(self.text, field)
        return value

    def undefined_error(self, field: str) -> EvaluationError:
        """The error Step Functions reports when this expression yields nothing for a
        field that needs a value (every field of a JSONata state does)."""
        return _undefined_error(self.text, field)


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> JsonataExpression:
    """Compiles the expression ``text`` (without ``{% %}``); cached by text.

    Raises :class:`JsonataSyntaxError` when it does not parse.
    """
    return JsonataExpression(text)


# --------------------------------------------------------------------- templates

# Template nodes: ("c", value) constant, ("e", index) expression, ("d", pairs), ("l", items).
_Node = tuple[str, Any]


class JsonataTemplate:
    """A JSON value whose ``"{% ... %}"`` strings, at any depth, are expressions.

    Evaluating it gives the value with every expression replaced by its result; an
    expression that yields nothing fails, naming its field (``Output/result``).
    """

    __slots__ = (
        "_builder",
        "_constant",
        "_leaves",
        "_node",
        "_program",
        "_rest_program",
        "_some_plain",
        "reads_context",
    )

    def __init__(self, value: Any) -> None:
        self._leaves: list[tuple[JsonataExpression, str]] = []
        self._node = self._analyse(value, "")
        self._constant = self._node[0] == "c"
        self._program: _Program | None = None
        self.reads_context = any(
            expr._analysis.uses_states
            and (expr._analysis.states_parts is None or "context" in expr._analysis.states_parts)
            for expr, _ in self._leaves
        )
        """Whether an expression reads ``$states.context`` (or ``$states`` whole)."""
        # When every expression is a plain path, the template is built without jsonatapy.
        plain = [expr._plain for expr, _ in self._leaves]
        self._builder: _paths.PathFunction | None = None
        if plain and all(p is not None for p in plain):
            self._builder = _paths.compile_builder(self._node, [p for p in plain if p is not None])
        # When only some are, those are read in Python and the others make the program.
        self._some_plain = self._builder is None and any(p is not None for p in plain)
        self._rest_program: _Program | None = None

    def _analyse(self, value: Any, suffix: str) -> _Node:
        if is_jsonata_string(value):
            self._leaves.append((compile_expression(value[2:-2]), suffix))
            return ("e", len(self._leaves) - 1)
        if isinstance(value, Mapping):
            pairs = tuple((k, self._analyse(v, f"{suffix}/{k}")) for k, v in value.items())
            if all(node[0] == "c" for _, node in pairs):
                return ("c", _copy(value))
            return ("d", pairs)
        if isinstance(value, list | tuple):
            items = tuple(self._analyse(v, f"{suffix}/{i}") for i, v in enumerate(value))
            if all(node[0] == "c" for node in items):
                return ("c", _copy(list(value)))
            return ("l", items)
        return ("c", value)

    @property
    def builder(self) -> _paths.PathFunction | None:
        """When every expression is a plain path: the function building the value in one
        call, ``(states, variables) -> value``, or ``MISS`` where jsonatapy must answer."""
        return self._builder

    @property
    def is_constant(self) -> bool:
        """True when the template holds no expression."""
        return self._constant

    @property
    def variables(self) -> frozenset[str]:
        """The workflow variables that the template's expressions reference."""
        return frozenset().union(*(expr.variables for expr, _ in self._leaves))

    @property
    def expressions(self) -> tuple[tuple[JsonataExpression, str], ...]:
        """Each expression with the field path it sits at (``""``, ``/result`` ...)."""
        return tuple(self._leaves)

    def evaluate(
        self,
        states: Mapping[str, Any],
        variables: Mapping[str, Any],
        *,
        field: str,
        now: float | None = None,
    ) -> Any:
        """The template's value; raises :class:`EvaluationError` when an expression
        fails or yields nothing (``field`` plus the nested keys names it)."""
        kind, payload = self._node
        if kind == "c":
            return payload
        if kind == "e":
            expr = self._leaves[0][0]
            value = expr.evaluate(states, variables, field=field, now=now)
            if value is UNDEFINED:
                raise expr.undefined_error(field)
            return value
        if self._builder is not None:
            built = self._builder(states, variables)
            if built is not _paths.MISS:
                return built
        try:
            values = self._mixed(states, variables, now) if self._some_plain else None
            if values is None:
                if self._program is None:
                    self._program = _Program([expr._analysis for expr, _ in self._leaves])
                values = self._program.run(states, variables, now)
        except _Failure:
            # Evaluate one by one, in order, to name the expression that fails.
            return self._build(self._node, self._one_by_one(states, variables, field, now))
        for (expr, suffix), value in zip(self._leaves, values, strict=True):
            if value is UNDEFINED:
                raise expr.undefined_error(field + suffix)
            if value is FUNCTION:
                raise _unsupported_error(expr.text, field + suffix)
        return self._build(self._node, values)

    def _mixed(
        self, states: Mapping[str, Any], variables: Mapping[str, Any], now: float | None
    ) -> list[Any] | None:
        """The values when the plain paths among the expressions are read in Python and
        only the others go to jsonatapy (a large value a path reads then never crosses
        into it); ``None`` when a path must go to jsonatapy after all."""
        values: list[Any] = []
        rest: list[int] = []
        for i, (expr, _) in enumerate(self._leaves):
            path = expr._path
            if path is None:
                values.append(None)
                rest.append(i)
                continue
            value = path(states, variables)
            if value is _paths.MISS:
                return None
            values.append(value)
        if self._rest_program is None:
            self._rest_program = _Program([self._leaves[i][0]._analysis for i in rest])
        for i, value in zip(rest, self._rest_program.run(states, variables, now), strict=True):
            values[i] = value
        return values

    def _one_by_one(
        self, states: Mapping[str, Any], variables: Mapping[str, Any], field: str, now: float | None
    ) -> list[Any]:
        values = []
        for expr, suffix in self._leaves:
            value = expr.evaluate(states, variables, field=field + suffix, now=now)
            if value is UNDEFINED:
                raise expr.undefined_error(field + suffix)
            values.append(value)
        return values

    def _build(self, node: _Node, values: list[Any]) -> Any:
        kind, payload = node
        if kind == "c":
            return payload
        if kind == "e":
            return values[payload]
        if kind == "d":
            return {key: self._build(child, values) for key, child in payload}
        return [self._build(child, values) for child in payload]


def compile_template(value: Any) -> JsonataTemplate:
    """Compiles a JSON value in which ``"{% ... %}"`` strings are expressions.

    Raises :class:`JsonataSyntaxError` for the first expression that does not parse.
    """
    return JsonataTemplate(value)
