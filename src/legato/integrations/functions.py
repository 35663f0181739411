"""Python functions standing in for Lambda functions, registered by name."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from legato.errors import FunctionNotFound, LegatoError

Handler = Callable[[Any, Any], Any]
"""A Lambda-style handler ``fn(event, context)``; sync or async."""

_DECORATED: dict[str, Handler] = {}


def function(name: str) -> Callable[[Handler], Handler]:
    """Registers the decorated callable as the Lambda function ``name``.

    Functions registered this way are visible to every engine and to
    ``legato.run``; a ``functions=`` mapping given to them takes precedence.
    """

    def register(fn: Handler) -> Handler:
        _DECORATED[name] = fn
        return fn

    return register


class FunctionRegistry:
    """Resolves Lambda function names (or ARNs) to Python callables."""

    def __init__(self, functions: Mapping[str, Handler] | None = None) -> None:
        self._own: dict[str, Handler] = dict(functions or {})

    def register(self, name: str, fn: Handler) -> None:
        """Registers ``fn`` as the function ``name``."""
        self._own[name] = fn

    def names(self) -> list[str]:
        """Every registered name."""
        return sorted({*self._own, *_DECORATED})

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def resolve(self, name_or_arn: str) -> Handler:
        """The callable for a function name, a function ARN or a partial ARN.

        A version or alias qualifier (``:$LATEST``, ``:prod``) is ignored.
        Raises :class:`FunctionNotFound`.
        """
        name = function_name(name_or_arn)
        fn = self._own.get(name)
        if fn is None:
            fn = _DECORATED.get(name)
        if fn is None:
            raise FunctionNotFound(name, self.names())
        return fn

    def load_file(self, path: str | Path) -> None:
        """Imports a Python file and registers its functions.

        The file may define a module-level ``FUNCTIONS`` mapping, use the
        ``@legato.function("name")`` decorator, or both.
        """
        p = Path(path)
        if not p.is_file():
            raise LegatoError(f"functions file not found: {p}")
        mod_name = f"legato_functions_{abs(hash(str(p.resolve())))}"
        spec = importlib.util.spec_from_file_location(mod_name, p)
        if spec is None or spec.loader is None:
            raise LegatoError(f"cannot import functions file {p}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise LegatoError(f"functions file {p} failed to import: {type(exc).__name__}: {exc}") from exc
        table = getattr(module, "FUNCTIONS", None)
        if table is not None:
            if not isinstance(table, Mapping):
                raise LegatoError(f"{p}: FUNCTIONS must be a mapping of names to callables")
            for key, fn in table.items():
                if not callable(fn):
                    raise LegatoError(f"{p}: FUNCTIONS[{key!r}] is not callable")
                self._own[str(key)] = fn


def function_name(name_or_arn: str) -> str:
    """The bare function name of ``NAME``, ``NAME:QUALIFIER`` or a function ARN."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        if len(parts) >= 7 and parts[5] == "function":
            return parts[6]
        return name_or_arn
    parts = name_or_arn.split(":")
    # ACCOUNT:function:NAME[:Q] or NAME[:Q]
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2]
    return parts[0]
