"""``legato.run``: one execution, start to end, from Python."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from legato import _json
from legato.integrations.functions import FunctionRegistry, Handler
from legato.runtime.clock import Clock, SystemClock
from legato.runtime.execution import Execution, ExecutionInfo
from legato.runtime.journal import public_event
from legato.runtime.machine import compile_machine
from legato.runtime.services import DEFAULT_ACCOUNT, DEFAULT_REGION, Services


@dataclass(slots=True)
class ExecutionResult:
    """How an execution ended.

    ``status`` is SUCCEEDED, FAILED, TIMED_OUT or ABORTED; ``output`` the parsed
    output (None unless SUCCEEDED); ``error`` and ``cause`` the failure's;
    ``history`` the events as GetExecutionHistory returns them.
    """

    status: str
    output: Any
    error: str | None
    cause: str | None
    execution_arn: str
    output_text: str | None = None
    _events: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def history(self) -> list[dict[str, Any]]:
        """The history events (``timestamp`` as an aware datetime)."""
        out = []
        for ev in self._events:
            item = public_event(ev)
            item = dict(item) if item is ev else item
            item["timestamp"] = datetime.fromtimestamp(ev["timestamp"], tz=UTC)
            out.append(item)
        return out

    @property
    def succeeded(self) -> bool:
        """True when the execution SUCCEEDED."""
        return self.status == "SUCCEEDED"


class _Loop:
    """One event loop per thread, reused across ``legato.run`` calls."""

    local = threading.local()

    @classmethod
    def get(cls) -> asyncio.Runner:
        runner: asyncio.Runner | None = getattr(cls.local, "runner", None)
        if runner is None:
            runner = asyncio.Runner()
            cls.local.runner = runner
        return runner


_DEFAULT_SERVICES = threading.local()


def _services(functions: Mapping[str, Handler] | FunctionRegistry | None, clock: Clock | None) -> Services:
    if functions is None and clock is None:
        cached: Services | None = getattr(_DEFAULT_SERVICES, "services", None)
        if cached is None:
            cached = Services()
            _DEFAULT_SERVICES.services = cached
        return cached
    registry = functions if isinstance(functions, FunctionRegistry) else FunctionRegistry(functions)
    return Services(clock=clock or SystemClock(), functions=registry)


def run(
    definition: str | bytes | Mapping[str, Any],
    input: Any = None,
    *,
    name: str | None = None,
    type: str = "STANDARD",
    functions: Mapping[str, Handler] | FunctionRegistry | None = None,
    clock: Clock | None = None,
) -> ExecutionResult:
    """Runs one execution of ``definition`` and returns how it ended.

    ``input`` is a JSON-compatible value, or JSON text when it is a ``str``
    (pass ``json.dumps(s)`` to give a JSON string); None means ``{}``. ``functions`` maps Lambda
    function names to Python callables. ``clock`` may be a
    :class:`~legato.VirtualClock` so that Waits and retries take no real time.
    Raises :class:`~legato.DefinitionError` for an invalid definition.
    """
    machine = compile_machine(definition)
    services = _services(functions, clock)
    if input is None:
        input_text = "{}"
    elif isinstance(input, str):
        input_text = input
    else:
        input_text = _json.dumps(input)
    sm_name = "LocalStateMachine"
    ex_name = name or services.ids.uuid()
    kind = "express" if type == "EXPRESS" else "execution"
    info = ExecutionInfo(
        execution_arn=f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:{kind}:{sm_name}:{ex_name}",
        name=ex_name,
        state_machine_arn=f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:stateMachine:{sm_name}",
        state_machine_name=sm_name,
        role_arn=f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/legato",
        type=type,
    )
    execution = Execution(machine, info, input_text, services)
    _Loop.get().run(execution.run())
    return ExecutionResult(
        status=execution.status,
        output=execution.output if execution.status == "SUCCEEDED" else None,
        error=execution.error,
        cause=execution.cause,
        execution_arn=info.execution_arn,
        output_text=execution.output_text,
        _events=execution.history,
    )
