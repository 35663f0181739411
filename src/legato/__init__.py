"""Legato: run AWS Step Functions workflows (Amazon States Language) on your own machines.

``legato.run(definition, input)`` runs one execution; ``legato.Engine`` does
everything else, with methods that mirror the Step Functions API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from legato._run import ExecutionResult, run
from legato.errors import (
    ApiError,
    DefinitionError,
    Diagnostic,
    EvaluationError,
    FunctionNotFound,
    LegatoError,
    StatesError,
)
from legato.integrations.functions import FunctionRegistry, function
from legato.runtime.clock import SystemClock, VirtualClock

if TYPE_CHECKING:
    from legato.client import client
    from legato.engine import Engine

__all__ = [
    "ApiError",
    "DefinitionError",
    "Diagnostic",
    "Engine",
    "EvaluationError",
    "ExecutionResult",
    "FunctionNotFound",
    "FunctionRegistry",
    "LegatoError",
    "StatesError",
    "SystemClock",
    "VirtualClock",
    "client",
    "function",
    "run",
]


def __getattr__(name: str) -> Any:
    # The engine pulls in the API layer's dependencies; load it on first use.
    if name == "Engine":
        from legato.engine import Engine

        return Engine
    if name == "client":  # boto3 is imported only by those who ask for a client
        from legato.client import client

        globals()["client"] = client  # the import just bound the name to the module
        return client
    raise AttributeError(f"module 'legato' has no attribute {name!r}")
