"""Reference paths and JSONPath queries, compiled once.

Step Functions paths start at ``$`` (the state input), ``$$`` (the context
object) or ``$name`` (a variable). Plain reference paths (``$.a.b[0]``,
``$['a b']``) are tokenised here and walked directly, which is far faster than a
general JSONPath library; paths that use query features (``[*]``, ``..``,
filters, slices, unions) go to python-jsonpath and return a list of matches, as
Step Functions does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from legato.expr.scope import Scope

Token = str | int

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOT_NAME = re.compile(r"\.([^.\[\]\s'\"]+)")
_BRACKET_INDEX = re.compile(r"\[(-?\d+)\]")
_BRACKET_NAME = re.compile(r"\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*\"((?:[^\"\\]|\\.)*)\"\s*\]")


class PathSyntaxError(ValueError):
    """The text is not a valid path."""


class PathNotFound(LookupError):
    """A path selected nothing. ``detail`` is Step Functions' wording of why."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(path, detail)
        self.path = path
        self.detail = detail

    def __str__(self) -> str:
        return f"Invalid path '{self.path}' : {self.detail}"


class VariableNotFound(LookupError):
    """A path names a variable that is not defined in scope."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def format_tokens(tokens: tuple[Token, ...] | list[Token]) -> str:
    """Jayway's canonical form of a path, ``$['a'][0]``, used in AWS messages."""
    parts = ["$"]
    for t in tokens:
        parts.append(f"[{t}]" if isinstance(t, int) else f"['{t}']")
    return "".join(parts)


def _tokenise(rest: str) -> tuple[Token, ...] | None:
    """Tokens of a plain reference path body, or None if it uses query features."""
    tokens: list[Token] = []
    pos = 0
    n = len(rest)
    while pos < n:
        m = _DOT_NAME.match(rest, pos)
        if m:
            name = m.group(1)
            if name == "*" or name.startswith("*"):
                return None
            tokens.append(name)
            pos = m.end()
            continue
        m = _BRACKET_INDEX.match(rest, pos)
        if m:
            idx = int(m.group(1))
            if idx < 0:
                return None
            tokens.append(idx)
            pos = m.end()
            continue
        m = _BRACKET_NAME.match(rest, pos)
        if m:
            # Only the quote that delimits the name is escaped; other
            # backslashes are part of the name, as in Step Functions.
            if m.group(1) is not None:
                tokens.append(m.group(1).replace("\\'", "'"))
            else:
                tokens.append(m.group(2).replace('\\"', '"'))
            pos = m.end()
            continue
        return None
    return tuple(tokens)


@dataclass(frozen=True, slots=True)
class Path:
    """A compiled path: where it starts, and how it selects.

    ``root`` is ``"input"``, ``"context"`` or ``"variable"``; ``variable`` the
    variable's name. ``tokens`` is set for plain reference paths; ``query`` (a
    JSONPath text rooted at ``$``) for paths with query features.
    """

    text: str
    root: str
    variable: str | None
    tokens: tuple[Token, ...] | None
    query: str | None
    _finder: Callable[[Any], list[Any]] | None = field(default=None, compare=False, repr=False)

    @property
    def is_reference(self) -> bool:
        """True for a path that selects at most one node (no query features)."""
        return self.tokens is not None

    def base(self, scope: Scope) -> Any:
        """The document the path starts from."""
        if self.root == "input":
            return scope.input
        if self.root == "context":
            return scope.context
        assert self.variable is not None
        try:
            return scope.variables[self.variable]
        except KeyError:
            raise VariableNotFound(self.variable) from None

    def resolve(self, scope: Scope) -> Any:
        """The value the path selects; raises :class:`PathNotFound`."""
        return self.select(self.base(scope))

    def select(self, doc: Any) -> Any:
        """Applies the path's selectors (everything after the root) to ``doc``."""
        tokens = self.tokens
        if tokens is None:
            assert self._finder is not None
            return self._finder(doc)
        value = doc
        last = len(tokens) - 1
        for i, tok in enumerate(tokens):
            if isinstance(tok, int):
                if isinstance(value, list) and tok < len(value):
                    value = value[tok]
                    continue
                if isinstance(value, dict) and str(tok) in value:
                    value = value[str(tok)]
                    continue
            elif isinstance(value, dict) and tok in value:
                value = value[tok]
                continue
            if i < last:
                raise PathNotFound(self.text, f"Missing property in path {format_tokens(tokens[: i + 1])}")
            raise PathNotFound(self.text, f"No results for path: {format_tokens(tokens)}")
        return value

    def assign(self, doc: Any, value: Any) -> Any:
        """A copy of ``doc`` with ``value`` placed at this path (ResultPath).

        Only the objects along the path are copied; missing objects are created.
        Raises :class:`PathNotFound` when the path crosses a non-object.
        """
        tokens = self.tokens
        if tokens is None:
            raise PathNotFound(self.text, "a ResultPath must be a reference path")
        if not tokens:
            return value
        return _assign(doc, tokens, 0, value, self.text)


def _assign(node: Any, tokens: tuple[Token, ...], i: int, value: Any, text: str) -> Any:
    tok = tokens[i]
    last = i == len(tokens) - 1
    if isinstance(tok, int) and isinstance(node, list):
        if tok >= len(node):
            raise PathNotFound(text, f"Index {tok} out of bounds in path {format_tokens(tokens[: i + 1])}")
        copy_list = list(node)
        copy_list[tok] = value if last else _assign(node[tok], tokens, i + 1, value, text)
        return copy_list
    key = str(tok)
    if node is None:
        node = {}
    if not isinstance(node, dict):
        raise PathNotFound(
            text, f"Cannot set property {key} on a non-object in path {format_tokens(tokens[:i])}"
        )
    copy_dict = dict(node)
    copy_dict[key] = value if last else _assign(node.get(key), tokens, i + 1, value, text)
    return copy_dict


def _query_finder(query: str) -> Callable[[Any], list[Any]]:
    import jsonpath  # python-jsonpath, only for the rare query paths

    compiled = jsonpath.compile(query)

    def find(doc: Any) -> list[Any]:
        return list(compiled.findall(doc))

    return find


@lru_cache(maxsize=4096)
def compile_path(text: str) -> Path:
    """Compiles a path (``$...``, ``$$...`` or ``$variable...``).

    Raises :class:`PathSyntaxError` for anything else.
    """
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"'{text}' is not a valid path: it must start with '$'")
    if text.startswith("$$"):
        root, variable, rest = "context", None, text[2:]
    else:
        m = _IDENT.match(text, 1)
        if m:
            root, variable, rest = "variable", m.group(0), text[m.end() :]
        else:
            root, variable, rest = "input", None, text[1:]
    if rest.strip() != rest:
        raise PathSyntaxError(f"'{text}' is not a valid path")
    tokens = _tokenise(rest)
    if tokens is not None:
        return Path(text, root, variable, tokens, None)
    query = "$" + rest
    try:
        finder = _query_finder(query)
    except Exception as exc:  # python-jsonpath raises its own error types
        raise PathSyntaxError(f"'{text}' is not a valid path: {exc}") from None
    return Path(text, root, variable, None, query, finder)


def is_valid_path(text: str) -> bool:
    """True when ``text`` compiles as a path."""
    try:
        compile_path(text)
    except PathSyntaxError:
        return False
    return True


def is_reference_path(text: str) -> bool:
    """True when ``text`` is a valid path that selects a single node."""
    try:
        return compile_path(text).is_reference
    except PathSyntaxError:
        return False


def lookup(scope: Scope, text: str) -> Any:
    """Resolves the path ``text`` in ``scope`` (compiling it on first use)."""
    return compile_path(text).resolve(scope)


__all__ = [
    "Path",
    "PathNotFound",
    "PathSyntaxError",
    "VariableNotFound",
    "compile_path",
    "format_tokens",
    "is_reference_path",
    "is_valid_path",
    "lookup",
]
