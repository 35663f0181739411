"""Static checks of the expressions a definition holds: paths, intrinsics, JSONata.

The intrinsic-function and JSONata compilers live in ``legato.expr``; they are
reached through :func:`_optional_module` so that validation still works (without
those checks) in a build where one of them is missing.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any

from legato.expr.paths import PathSyntaxError, compile_path

_JSONATA = re.compile(r"\A\{%(.*)%\}\Z", re.DOTALL)
# A JSONata parser message sometimes opens with its error code ("S0202: ..."); AWS drops it.
_JSONATA_CODE = re.compile(r"\A[STDU]\d{4}:\s*")


@cache
def _optional_module(name: str) -> Any:
    """The module ``name``, or None when it is not importable (yet)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def is_jsonata(value: Any) -> bool:
    """True for a string of the form ``{% expression %}``."""
    return isinstance(value, str) and _JSONATA.match(value) is not None


def jsonata_error(value: str) -> str | None:
    """Why the ``{% ... %}`` string ``value`` does not compile, or None when it does.

    None too when the JSONata compiler is not available.
    """
    m = _JSONATA.match(value)
    if m is None:
        return "A JSONata expression must be written as '{% expression %}'"
    module = _optional_module("legato.expr.jsonata")
    if module is None:
        return None
    try:
        module.compile_expression(m.group(1).strip())
    except module.JsonataSyntaxError as exc:
        # AWS reports JSONata's own description, without its error code.
        detail = getattr(exc, "message", None)
        if isinstance(detail, str) and detail:
            return detail
        return _JSONATA_CODE.sub("", str(exc)) or "Invalid JSONata expression"
    return None


def path_error(value: Any, *, reference: bool = False) -> str | None:
    """Why ``value`` is not a valid path, or None when it is.

    ``reference`` requires a reference path (one that selects a single node).
    """
    if not isinstance(value, str):
        return "a path must be a string"
    try:
        path = compile_path(value)
    except PathSyntaxError as exc:
        return str(exc)
    if reference and not path.is_reference:
        return f"'{value}' is not a reference path: it must select a single node"
    return None


def intrinsic_error(value: str) -> str | None:
    """Why ``value`` is not a valid intrinsic function call, or None when it is.

    None too when the intrinsic compiler is not available and the text at least
    names a ``States.`` function.
    """
    module = _optional_module("legato.expr.intrinsics")
    if module is None:
        return None if value.startswith("States.") else "not an intrinsic function call"
    try:
        module.compile_intrinsic(value)
    except module.IntrinsicSyntaxError as exc:
        return str(exc)
    return None


def dynamic_value_error(value: Any) -> str | None:
    """Why the value of a ``.$`` key is neither a valid path nor an intrinsic call."""
    if not isinstance(value, str):
        return "it is not a string"
    if value.startswith("$"):
        return path_error(value)
    return intrinsic_error(value)
