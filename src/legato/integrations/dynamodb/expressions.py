"""DynamoDB's expression language: a tokenizer and a recursive-descent parser.

Condition, filter, key condition, update and projection expressions compile to
frozen dataclasses (:mod:`legato.integrations.dynamodb.evaluate` runs them). An
expression text is compiled once and cached; ``#name`` and ``:value``
placeholders stay symbolic in the tree and are bound per request, so the same
text with other ExpressionAttributeNames/Values reuses its compiled form.

Errors are DynamoDB's ``ValidationException`` messages, word for word
(``Invalid UpdateExpression: Syntax error; token: "=", near: "SET ="``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from legato.integrations.dynamodb.errors import DynamoDBError, validation
from legato.integrations.dynamodb.reserved import RESERVED_WORDS

# ---------------------------------------------------------------------------
# The tree


PathPart = str | int
"""A map key (a literal name, or a ``#placeholder``) or a list index."""


@dataclass(frozen=True, slots=True)
class Path:
    """A document path: ``a.b[2].#c``."""

    parts: tuple[PathPart, ...]


@dataclass(frozen=True, slots=True)
class Value:
    """An ExpressionAttributeValues placeholder, ``:v``."""

    name: str


@dataclass(frozen=True, slots=True)
class Size:
    """``size(path)``: a number operand."""

    path: Path


@dataclass(frozen=True, slots=True)
class IfNotExists:
    """``if_not_exists(path, operand)`` (update expressions only)."""

    path: Path
    default: Operand


@dataclass(frozen=True, slots=True)
class ListAppend:
    """``list_append(a, b)`` (update expressions only)."""

    first: Operand
    second: Operand


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``a + b`` or ``a - b`` (update expressions only)."""

    op: str
    left: Operand
    right: Operand


Operand = Path | Value | Size | IfNotExists | ListAppend | Arithmetic


@dataclass(frozen=True, slots=True)
class Compare:
    """``a = b``, ``<>``, ``<``, ``<=``, ``>``, ``>=``."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    """``a BETWEEN low AND high``."""

    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    """``a IN (b, c, ...)``."""

    operand: Operand
    options: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Function:
    """A boolean function: attribute_exists, attribute_not_exists, attribute_type, begins_with, contains."""

    name: str
    args: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class And:
    """``a AND b``."""

    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Or:
    """``a OR b``."""

    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT a``."""

    operand: Condition


Condition = Compare | Between | In | Function | And | Or | Not


@dataclass(frozen=True, slots=True)
class SetAction:
    """``SET path = value``."""

    path: Path
    value: Operand


@dataclass(frozen=True, slots=True)
class Update:
    """A compiled UpdateExpression: its actions by clause, in written order."""

    set: tuple[SetAction, ...]
    remove: tuple[Path, ...]
    add: tuple[tuple[Path, Value], ...]
    delete: tuple[tuple[Path, Value], ...]
    names: frozenset[str]
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """A compiled condition, filter or key condition expression."""

    condition: Condition
    names: frozenset[str]
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class Projection:
    """A compiled ProjectionExpression."""

    paths: tuple[Path, ...]
    names: frozenset[str]


# ---------------------------------------------------------------------------
# Tokens

_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<hash>#[A-Za-z0-9_]+)|(?P<colon>:[A-Za-z0-9_]+)"
    r"|(?P<number>\d+)|(?P<op><>|<=|>=|[=<>()\[\],.+\-]))"
)
_BOOLEAN_FUNCTIONS = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
}
_FUNCTIONS = {**_BOOLEAN_FUNCTIONS, "size": 1, "if_not_exists": 2, "list_append": 2}
_COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, hash, colon, number, op, eof
    text: str
    start: int
    end: int


def _tokenize(text: str, kind: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            after = _TOKEN.match(text, pos + 1)
            end = after.end() if after is not None and after.lastgroup is not None else pos + 1
            prev = tokens[-1].start if tokens else pos
            raise validation(f'Invalid {kind}: Syntax error; token: "{text[pos]}", near: "{text[prev:end]}"')
        group = m.lastgroup
        tokens.append(_Token(group, m.group(group), m.start(group), m.end(group)))
        pos = m.end()
    tokens.append(_Token("eof", "<EOF>", len(text), len(text)))
    return tokens


class _Parser:
    """Recursive descent over one expression's tokens."""

    def __init__(self, text: str, kind: str) -> None:
        self.text = text
        self.kind = kind
        self.tokens = _tokenize(text, kind)
        self.i = 0
        self.names: set[str] = set()
        self.values: set[str] = set()

    # -- helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, token: _Token | None = None) -> DynamoDBError:
        token = token or self.tok
        idx = self.tokens.index(token)
        start = self.tokens[idx - 1].start if idx > 0 else token.start
        nxt = self.tokens[idx + 1].end if idx + 1 < len(self.tokens) else token.end
        return validation(
            f'Invalid {self.kind}: Syntax error; token: "{token.text}", near: "{self.text[start:nxt]}"'
        )

    def fail(self, message: str) -> DynamoDBError:
        return validation(f"Invalid {self.kind}: {message}")

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def at_word(self, word: str) -> bool:
        return self.tok.kind == "name" and self.tok.text.upper() == word

    def expect_op(self, op: str) -> None:
        if not self.at_op(op):
            raise self.error()
        self.i += 1

    def end(self) -> None:
        if self.tok.kind != "eof":
            raise self.error()

    # -- operands
    def path(self) -> Path:
        parts: list[PathPart] = [self.path_name()]
        while True:
            if self.at_op("."):
                self.i += 1
                parts.append(self.path_name())
            elif self.at_op("["):
                self.i += 1
                if self.tok.kind != "number":
                    raise self.error()
                parts.append(int(self.tok.text))
                self.i += 1
                self.expect_op("]")
            else:
                return Path(tuple(parts))

    def path_name(self) -> str:
        tok = self.tok
        if tok.kind == "hash":
            self.names.add(tok.text)
            self.i += 1
            return tok.text
        if tok.kind != "name":
            raise self.error()
        if tok.text.upper() in RESERVED_WORDS:
            raise self.fail(f"Attribute name is a reserved keyword; reserved keyword: {tok.text}")
        self.i += 1
        return tok.text

    def operand(self, update: bool) -> Operand:
        tok = self.tok
        if tok.kind == "colon":
            self.values.add(tok.text)
            self.i += 1
            return Value(tok.text)
        if (
            tok.kind == "name"
            and self.tokens[self.i + 1].kind == "op"
            and self.tokens[self.i + 1].text == "("
        ):
            return self.function_operand(update)
        if tok.kind in ("name", "hash"):
            return self.path()
        raise self.error()

    def function_call(self) -> tuple[str, list[Operand], _Token]:
        tok = self.tok
        name = tok.text
        if name not in _FUNCTIONS:
            raise self.fail(f"Invalid function name; function: {name}")
        self.i += 2
        args: list[Operand] = []
        if not self.at_op(")"):
            args.append(self.operand(update=name in ("if_not_exists", "list_append")))
            while self.at_op(","):
                self.i += 1
                args.append(self.operand(update=name in ("if_not_exists", "list_append")))
        self.expect_op(")")
        if len(args) != _FUNCTIONS[name]:
            raise self.fail(
                f"Incorrect number of operands for operator or function; operator or function: {name}, "
                f"number of operands: {len(args)}"
            )
        return name, args, tok

    def require_path(self, name: str, arg: Operand) -> Path:
        if not isinstance(arg, Path):
            raise self.fail(f"Operator or function requires a document path; operator or function: {name}")
        return arg

    def function_operand(self, update: bool) -> Operand:
        name, args, _ = self.function_call()
        if name == "size" and not update and self.kind != "UpdateExpression":
            return Size(self.require_path(name, args[0]))
        if update and name == "if_not_exists":
            return IfNotExists(self.require_path(name, args[0]), args[1])
        if update and name == "list_append":
            return ListAppend(args[0], args[1])
        if self.kind == "UpdateExpression":
            raise self.fail(f"The function is not allowed in an update expression; function: {name}")
        raise self.fail(f"The function is not allowed to be used this way in an expression; function: {name}")

    # -- conditions: OR < AND < NOT < comparisons/functions/parentheses
    def condition(self) -> Condition:
        left = self.conjunction()
        while self.at_word("OR"):
            self.i += 1
            left = Or(left, self.conjunction())
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.at_word("AND"):
            self.i += 1
            left = And(left, self.negation())
        return left

    def negation(self) -> Condition:
        if self.at_word("NOT"):
            self.i += 1
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Condition:
        if self.at_op("("):
            self.i += 1
            inner = self.condition()
            self.expect_op(")")
            return inner
        tok = self.tok
        nxt = self.tokens[self.i + 1]
        if tok.kind == "name" and nxt.kind == "op" and nxt.text == "(" and tok.text in _BOOLEAN_FUNCTIONS:
            name, args, _ = self.function_call()
            if name in (
                "attribute_exists",
                "attribute_not_exists",
                "attribute_type",
                "begins_with",
                "contains",
            ):
                self.require_path(name, args[0])
            if self.at_op(*_COMPARATORS):
                raise self.fail(
                    f"The function is not allowed to be used this way in an expression; function: {name}"
                )
            return Function(name, tuple(args))
        left = self.operand(update=False)
        if self.at_op(*_COMPARATORS):
            op = self.tok.text
            self.i += 1
            return Compare(op, left, self.operand(update=False))
        if self.at_word("BETWEEN"):
            self.i += 1
            low = self.operand(update=False)
            if not self.at_word("AND"):
                raise self.error()
            self.i += 1
            return Between(left, low, self.operand(update=False))
        if self.at_word("IN"):
            self.i += 1
            self.expect_op("(")
            options = [self.operand(update=False)]
            while self.at_op(","):
                self.i += 1
                options.append(self.operand(update=False))
            self.expect_op(")")
            return In(left, tuple(options))
        if isinstance(left, Size):
            raise self.fail(
                "The function is not allowed to be used this way in an expression; function: size"
            )
        raise self.error()

    # -- update expressions
    def update(self) -> Update:
        sections: dict[str, list[object]] = {}
        if self.tok.kind == "eof":
            raise self.error()
        while self.tok.kind != "eof":
            tok = self.tok
            word = tok.text.upper() if tok.kind == "name" else ""
            if word not in ("SET", "REMOVE", "ADD", "DELETE"):
                raise self.error()
            if word in sections:
                raise self.fail(f'The "{word}" section can only be used once in an update expression;')
            self.i += 1
            actions: list[object] = []
            while True:
                actions.append(self.update_action(word))
                if not self.at_op(","):
                    break
                self.i += 1
            sections[word] = actions
        return Update(
            set=tuple(sections.get("SET", ())),  # type: ignore[arg-type]
            remove=tuple(sections.get("REMOVE", ())),  # type: ignore[arg-type]
            add=tuple(sections.get("ADD", ())),  # type: ignore[arg-type]
            delete=tuple(sections.get("DELETE", ())),  # type: ignore[arg-type]
            names=frozenset(self.names),
            values=frozenset(self.values),
        )

    def update_action(self, word: str) -> object:
        path = self.path()
        if word == "REMOVE":
            return path
        if word == "SET":
            self.expect_op("=")
            return SetAction(path, self.set_value())
        if self.tok.kind != "colon":
            raise self.error()
        value = self.operand(update=True)
        assert isinstance(value, Value)
        return (path, value)

    def set_value(self) -> Operand:
        left = self.operand(update=True)
        if self.at_op("+", "-"):
            op = self.tok.text
            self.i += 1
            return Arithmetic(op, left, self.operand(update=True))
        return left


# ---------------------------------------------------------------------------
# Compilation (cached by text)


def _check_not_empty(text: str, kind: str) -> None:
    if not text.strip():
        raise validation(f"Invalid {kind}: The expression can not be empty;")


@lru_cache(maxsize=2048)
def compile_condition(text: str, kind: str = "ConditionExpression") -> CompiledCondition:
    """A ConditionExpression, FilterExpression or KeyConditionExpression (``kind`` names it in errors)."""
    _check_not_empty(text, kind)
    parser = _Parser(text, kind)
    condition = parser.condition()
    parser.end()
    return CompiledCondition(condition, frozenset(parser.names), frozenset(parser.values))


@lru_cache(maxsize=2048)
def compile_update(text: str) -> Update:
    """An UpdateExpression; overlapping paths are rejected as DynamoDB does."""
    kind = "UpdateExpression"
    _check_not_empty(text, kind)
    parser = _Parser(text, kind)
    update = parser.update()
    return update


@lru_cache(maxsize=2048)
def compile_projection(text: str) -> Projection:
    """A ProjectionExpression: comma-separated document paths."""
    kind = "ProjectionExpression"
    _check_not_empty(text, kind)
    parser = _Parser(text, kind)
    paths = [parser.path()]
    while parser.at_op(","):
        parser.i += 1
        paths.append(parser.path())
    parser.end()
    return Projection(tuple(paths), frozenset(parser.names))


def update_paths(update: Update) -> list[Path]:
    """Every document path an UpdateExpression writes, in clause order."""
    return (
        [a.path for a in update.set]
        + list(update.remove)
        + [p for p, _ in update.add]
        + [p for p, _ in update.delete]
    )
