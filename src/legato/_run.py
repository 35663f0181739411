"""``legato.run``: one execution, start to end, from Python."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.integrations.functions import FunctionRegistry, Handler
from legato.runtime.clock import Clock, SystemClock
from legato.runtime.execution import Execution, ExecutionInfo
from legato.runtime.journal import public_event
from legato.runtime.machine import compile_machine
from legato.runtime.services import DEFAULT_ACCOUNT, DEFAULT_REGION, Services

if TYPE_CHECKING:
    from legato.runtime.mocks import MockConfig


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


def _mocked_services(
    functions: Mapping[str, Handler] | FunctionRegistry | None, clock: Clock | None
) -> Services:
    # A mocked run gets its own Services: its test case must not leak into later runs.
    registry = functions if isinstance(functions, FunctionRegistry) else FunctionRegistry(functions)
    return Services(clock=clock or SystemClock(), functions=registry)


def _use_test_case(
    services: Services,
    execution_arn: str,
    source: str | Path | Mapping[str, Any] | MockConfig | None,
    test_case: str,
) -> None:
    from legato.runtime import mocks

    if source is None:
        raise mocks.MockConfigError("legato.run: test_case needs a mock_config")
    config = mocks.load_mock_config(source)
    machine, sep, case = test_case.rpartition("#")
    if not sep:
        owners = [name for name, cases in config.test_cases.items() if case in cases]
        if len(owners) != 1:
            where = "no state machine" if not owners else f"several state machines ({', '.join(owners)})"
            raise mocks.MockConfigError(
                f"legato.run: the test case '{case}' is defined by {where}; "
                "name it as 'StateMachine#TestCase'"
            )
        machine = owners[0]
    mocks.attach(services, execution_arn, machine, case, config=config)


def run(
    definition: str | bytes | Mapping[str, Any],
    input: Any = None,
    *,
    name: str | None = None,
    type: str = "STANDARD",
    functions: Mapping[str, Handler] | FunctionRegistry | None = None,
    clock: Clock | None = None,
    mock_config: str | Path | Mapping[str, Any] | MockConfig | None = None,
    test_case: str | None = None,
) -> ExecutionResult:
    """Runs one execution of ``definition`` and returns how it ended.

    ``input`` is a JSON-compatible value, or JSON text when it is a ``str``
    (pass ``json.dumps(s)`` to give a JSON string); None means ``{}``. ``functions`` maps Lambda
    function names to Python callables. ``clock`` may be a
    :class:`~legato.VirtualClock` so that Waits and retries take no real time.
    ``mock_config`` (a MockConfigFile path or document) and ``test_case``
    (``"TestCase"``, or ``"StateMachine#TestCase"`` when several machines define it)
    mock Task results as Step Functions Local does (see docs/mocking.md).
    Raises :class:`~legato.DefinitionError` for an invalid definition.
    """
    machine = compile_machine(definition)
    services = _services(functions, clock) if test_case is None else _mocked_services(functions, clock)
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
    if test_case is not None:
        _use_test_case(services, info.execution_arn, mock_config, test_case)
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
