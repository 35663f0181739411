"""Parser for intrinsic function calls: text to a small syntax tree, once.

The grammar, from the Step Functions Developer Guide::

    call     := "States." NAME "(" [ argument ( "," argument )* ] ")"
    argument := string | number | "true" | "false" | "null" | path | call
    string   := "'" ( any character but ' and \\ | "\\'" | "\\{" | "\\}" | "\\\\" )* "'"

Only the four escapes are allowed: AWS rejects any other backslash at
CreateStateMachine time (the recorded ``ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION``
cases). Unescaped ``{`` and ``}`` are fine in most strings; they only matter in
the template of ``States.Format``, so every string literal also records its
template form (the pieces between ``{}`` placeholders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from legato.expr.paths import Path, PathSyntaxError, compile_path

# AWS: "You can nest up to 10 intrinsic functions within a field."
MAX_NESTING = 10

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_ESCAPABLE = frozenset("'{}\\")
_NUMBER_START = frozenset("-0123456789")
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_WHITESPACE = frozenset(" \t\n\r")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}
UNMATCHED_BRACE = "matching '}' not found for '{'"


class IntrinsicSyntaxError(ValueError):
    """An intrinsic function call that cannot be compiled.

    ``text`` is the whole call, ``position`` the 0-based offset of the problem
    in it, ``reason`` what is wrong there.
    """

    def __init__(self, text: str, position: int, reason: str) -> None:
        super().__init__(text, position, reason)
        self.text = text
        self.position = position
        self.reason = reason

    def __str__(self) -> str:
        # The call is shown verbatim: repr() would double every backslash of an escape.
        return f"{self.reason} (at character {self.position + 1} of the intrinsic function call {self.text})"


@dataclass(frozen=True, slots=True)
class LiteralNode:
    """A string, number, boolean or null written in the call.

    For strings, ``template`` is the text split at unescaped ``{}``
    placeholders (what ``States.Format`` uses), or ``None`` when the string has
    an unescaped ``{`` that is not followed by ``}``.
    """

    value: Any
    position: int
    template: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PathNode:
    """A path argument (``$.x``, ``$$.x``, ``$var.x``, ``$``)."""

    path: Path
    position: int


@dataclass(frozen=True, slots=True)
class CallNode:
    """A call of ``States.<name>`` with its arguments."""

    name: str
    args: tuple[LiteralNode | PathNode | CallNode, ...]
    position: int


Node = LiteralNode | PathNode | CallNode


def looks_like_call(text: str) -> bool:
    """True when ``text`` starts like ``States.Name(``."""
    if not text.startswith("States."):
        return False
    i = 7
    n = len(text)
    while i < n and text[i] in _NAME_CHARS:
        i += 1
    return i > 7 and i < n and text[i] == "("


def parse(text: str) -> CallNode:
    """Parses a whole call; raises :class:`IntrinsicSyntaxError`."""
    parser = _Parser(text)
    parser.skip_space()
    if not text.startswith("States.", parser.pos):
        raise IntrinsicSyntaxError(text, parser.pos, "an intrinsic function call starts with 'States.'")
    call = parser.call(1)
    parser.skip_space()
    if parser.pos != len(text):
        raise IntrinsicSyntaxError(text, parser.pos, "unexpected text after the closing ')'")
    return call


class _Parser:
    """A recursive-descent parser over one call's text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str, position: int | None = None) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(self.text, self.pos if position is None else position, reason)

    def skip_space(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] in _WHITESPACE:
            self.pos += 1

    def call(self, depth: int) -> CallNode:
        start = self.pos
        if depth > MAX_NESTING:
            raise self.fail(f"intrinsic functions can be nested at most {MAX_NESTING} deep")
        i = start + 7  # after "States."
        text, n = self.text, len(self.text)
        while i < n and text[i] in _NAME_CHARS:
            i += 1
        name = text[start:i]
        if i == start + 7:
            raise self.fail("expected a function name after 'States.'", i)
        if i >= n or text[i] != "(":
            raise self.fail(f"expected '(' after {name}", i)
        self.pos = i + 1
        args: list[Node] = []
        self.skip_space()
        if self.pos < n and text[self.pos] == ")":
            self.pos += 1
            return CallNode(name, (), start)
        while True:
            self.skip_space()
            args.append(self.argument(depth))
            self.skip_space()
            if self.pos >= n:
                raise self.fail(f"missing ')' to close {name}(")
            ch = text[self.pos]
            self.pos += 1
            if ch == ")":
                return CallNode(name, tuple(args), start)
            if ch != ",":
                raise self.fail(f"expected ',' or ')' in the arguments of {name}, found {ch!r}", self.pos - 1)

    def argument(self, depth: int) -> Node:
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.fail("expected an argument or ')', found the end of the call")
        ch = text[pos]
        if ch == "'":
            return self.string()
        if ch == "$":
            return self.path()
        if ch in _NUMBER_START:
            return self.number()
        if text.startswith("States.", pos):
            return self.call(depth + 1)
        for word, value in _KEYWORDS.items():
            if text.startswith(word, pos):
                end = pos + len(word)
                if end == len(text) or text[end] not in _NAME_CHARS:
                    self.pos = end
                    return LiteralNode(value, pos)
        if ch in ",)":
            raise self.fail("expected an argument")
        raise self.fail(
            "expected an argument: a 'string', a number, true, false, null, a path starting with '$', "
            "or a States.* call"
        )

    def string(self) -> LiteralNode:
        text, n = self.text, len(self.text)
        start = self.pos
        i = start + 1
        # Characters with a flag saying whether they were escaped: an escaped
        # brace is literal text in a States.Format template.
        chars: list[str] = []
        escaped: list[bool] = []
        while True:
            if i >= n:
                raise self.fail('unterminated string literal: missing closing "\'"', start)
            ch = text[i]
            if ch == "'":
                break
            if ch == "\\":
                nxt = text[i + 1] if i + 1 < n else ""
                if nxt not in _ESCAPABLE or nxt == "":
                    raise self.fail(
                        f"invalid escape sequence '\\{nxt}' in a string literal: only \\', \\{{, \\}} "
                        "and \\\\ are allowed",
                        i,
                    )
                chars.append(nxt)
                escaped.append(True)
                i += 2
                continue
            chars.append(ch)
            escaped.append(False)
            i += 1
        self.pos = i + 1
        return LiteralNode("".join(chars), start, split_template(chars, escaped))

    def number(self) -> LiteralNode:
        text, n = self.text, len(self.text)
        start = self.pos
        i = start + 1
        while i < n and text[i] in _NUMBER_CHARS:
            i += 1
        token = text[start:i]
        value = _parse_number(token)
        if value is None:
            raise self.fail(f"invalid number {token!r}", start)
        self.pos = i
        return LiteralNode(value, start)

    def path(self) -> PathNode:
        text, n = self.text, len(self.text)
        start = self.pos
        i = start
        depth = 0
        quote = ""
        # A path runs to the next ',' or ')' outside brackets, parentheses and
        # quotes: filters such as $.a[?(@.b == 'x,y')] contain both.
        while i < n:
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 2
                    continue
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            i += 1
        raw = text[start:i].rstrip()
        try:
            path = compile_path(raw)
        except PathSyntaxError as exc:
            raise self.fail(f"invalid path argument {raw!r}: {exc}", start) from None
        self.pos = start + len(raw)
        return PathNode(path, start)


def _parse_number(token: str) -> int | float | None:
    """A JSON number, or None when ``token`` is not one."""
    if _JSON_NUMBER.fullmatch(token) is None:
        return None
    if any(c in token for c in ".eE"):
        return float(token)
    return int(token)


def split_template(chars: list[str], escaped: list[bool]) -> tuple[str, ...] | None:
    """The pieces of a States.Format template between its ``{}`` placeholders.

    ``None`` when an unescaped ``{`` is not immediately followed by ``}``. A
    lone ``}`` is kept as text.
    """
    pieces: list[str] = []
    current: list[str] = []
    i, n = 0, len(chars)
    while i < n:
        ch = chars[i]
        if ch == "{" and not escaped[i]:
            if i + 1 < n and chars[i + 1] == "}" and not escaped[i + 1]:
                pieces.append("".join(current))
                current = []
                i += 2
                continue
            return None
        current.append(ch)
        i += 1
    pieces.append("".join(current))
    return tuple(pieces)


@lru_cache(maxsize=1024)
def template_from_value(value: str) -> tuple[str, ...] | None:
    """The template form of a States.Format template read from a path.

    The same escapes as in a literal apply (``\\{`` is a literal brace); any
    other backslash is kept as text. Cached: templates read from the input tend
    to repeat.
    """
    if "{" not in value and "\\" not in value:
        return (value,)
    chars: list[str] = []
    escaped: list[bool] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n and value[i + 1] in _ESCAPABLE:
            chars.append(value[i + 1])
            escaped.append(True)
            i += 2
            continue
        chars.append(ch)
        escaped.append(False)
        i += 1
    return split_template(chars, escaped)


__all__ = [
    "MAX_NESTING",
    "UNMATCHED_BRACE",
    "CallNode",
    "IntrinsicSyntaxError",
    "LiteralNode",
    "Node",
    "PathNode",
    "looks_like_call",
    "parse",
    "split_template",
    "template_from_value",
]
