"""Mocked Task results in Step Functions Local's MockConfigFile format.

A mock configuration names, per state machine, *test cases* that map state names
to *mocked responses*; a mocked response gives, per invocation of the state
(``"0"`` for the first, ``"1-2"`` for the second and third ...), either a
``Return`` value (the Task's result) or a ``Throw`` (``{"Error", "Cause"}``)::

    {"StateMachines": {"Orders": {"TestCases": {"HappyPath": {"Charge": "ChargeOk"}}}},
     "MockedResponses": {"ChargeOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}}}}}

An execution uses a test case when it is started with ``STATE_MACHINE_ARN#TestCase``
(``legato serve --mock-config FILE``, or the ``SFN_MOCK_CONFIG`` environment
variable, as Step Functions Local reads it) or with ``legato.run(...,
mock_config=..., test_case=...)``. A state without a mock in the test case runs
for real. A mocked result goes through ResultSelector, ResultPath and the rest
exactly as a real one, and the history records the same events (a mocked Lambda
records ``LambdaFunctionScheduled`` ... ``LambdaFunctionSucceeded``). A mocked
``.waitForTaskToken`` or ``.sync`` Task takes the mocked response as its final
result without waiting.

Choices where Step Functions Local's documentation is silent: invocations are
counted per state per execution (retries and loops count, Map iterations share
the count); an invocation past the last one the mocked response defines fails the
Task with ``States.Runtime`` saying so.
"""

from __future__ import annotations

import itertools
import json
import re
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato.errors import LegatoError, StatesError

if TYPE_CHECKING:
    from legato.runtime.execution import Execution
    from legato.runtime.services import Services

__all__ = [
    "STATE_KEY",
    "MockConfig",
    "MockConfigError",
    "MockedResponse",
    "attach",
    "load_mock_config",
    "mock_for",
    "split_test_case",
]

STATE_KEY = "legato.mocks"
"""Where an engine's :class:`MockConfig` and test-case sessions live in
``IntegrationSettings.state``."""

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


class MockConfigError(LegatoError):
    """A mock configuration that does not follow the MockConfigFile format."""


@dataclass(frozen=True, slots=True)
class MockedResponse:
    """One mocked response: what each invocation of the state returns or throws."""

    name: str
    attempts: tuple[tuple[int, int, Any, tuple[str, str | None] | None], ...]
    """``(first, last, returned, thrown)`` per range of invocations, in order."""

    def outcome(self, invocation: int) -> Any:
        """The result of invocation ``invocation`` (0-based); raises the thrown error."""
        for first, last, returned, thrown in self.attempts:
            if first <= invocation <= last:
                if thrown is not None:
                    raise StatesError(thrown[0], thrown[1])
                return returned
        raise StatesError(
            "States.Runtime",
            f"The mocked response '{self.name}' defines no response for invocation {invocation} "
            "(invocations count from 0).",
        )


@dataclass(frozen=True, slots=True)
class MockConfig:
    """A parsed mock configuration file."""

    test_cases: Mapping[str, Mapping[str, Mapping[str, str]]]
    """State machine name -> test case name -> state name -> mocked response name."""
    responses: Mapping[str, MockedResponse]

    def test_case(self, state_machine: str, test_case: str) -> Mapping[str, MockedResponse]:
        """The mocked responses of a test case, by state name; LegatoError when it does not exist."""
        cases = self.test_cases.get(state_machine)
        if cases is None or test_case not in cases:
            raise MockConfigError(
                f"the mock configuration has no test case '{test_case}' for the state machine "
                f"'{state_machine}'"
            )
        return {state: self.responses[name] for state, name in cases[test_case].items()}


def _fail(message: str) -> MockConfigError:
    return MockConfigError(f"mock configuration: {message}")


def _parse_response(name: str, value: Any) -> MockedResponse:
    if not isinstance(value, dict) or not value:
        raise _fail(f"MockedResponses.{name} must be an object of invocation numbers or ranges")
    attempts: list[tuple[int, int, Any, tuple[str, str | None] | None]] = []
    for key, body in value.items():
        m = _RANGE.match(key)
        if m is None:
            raise _fail(f"MockedResponses.{name}: '{key}' is not an invocation number ('0') or range ('1-2')")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if last < first:
            raise _fail(f"MockedResponses.{name}: the range '{key}' ends before it starts")
        if not isinstance(body, dict) or len({"Return", "Throw"} & body.keys()) != 1 or len(body) != 1:
            raise _fail(f"MockedResponses.{name}.{key} must hold exactly one of Return or Throw")
        if "Throw" in body:
            thrown = body["Throw"]
            if not isinstance(thrown, dict) or not isinstance(thrown.get("Error"), str):
                raise _fail(f"MockedResponses.{name}.{key}.Throw must be an object with a string Error")
            cause = thrown.get("Cause")
            if cause is not None and not isinstance(cause, str):
                raise _fail(f"MockedResponses.{name}.{key}.Throw.Cause must be a string")
            attempts.append((first, last, None, (thrown["Error"], cause)))
        else:
            attempts.append((first, last, body["Return"], None))
    attempts.sort(key=lambda a: a[0])
    for before, after in itertools.pairwise(attempts):
        if after[0] <= before[1]:
            raise _fail(f"MockedResponses.{name}: invocation {after[0]} is given twice")
    return MockedResponse(name, tuple(attempts))


def parse_mock_config(doc: Any) -> MockConfig:
    """Checks a MockConfigFile document and returns it parsed; MockConfigError says what is wrong."""
    if not isinstance(doc, dict):
        raise _fail("the document must be a JSON object with StateMachines and MockedResponses")
    raw_responses = doc.get("MockedResponses") or {}
    if not isinstance(raw_responses, dict):
        raise _fail("MockedResponses must be an object")
    responses = {name: _parse_response(name, value) for name, value in raw_responses.items()}
    machines = doc.get("StateMachines") or {}
    if not isinstance(machines, dict):
        raise _fail("StateMachines must be an object")
    test_cases: dict[str, dict[str, dict[str, str]]] = {}
    for machine, body in machines.items():
        cases = body.get("TestCases") if isinstance(body, dict) else None
        if not isinstance(cases, dict):
            raise _fail(f"StateMachines.{machine} must be an object with TestCases")
        test_cases[machine] = {}
        for case, states in cases.items():
            if not isinstance(states, dict):
                raise _fail(
                    f"StateMachines.{machine}.TestCases.{case} must map state names to mocked responses"
                )
            for state, response in states.items():
                if not isinstance(response, str) or response not in responses:
                    raise _fail(
                        f"StateMachines.{machine}.TestCases.{case}.{state} names the mocked response "
                        f"{json.dumps(response)}, which MockedResponses does not define"
                    )
            test_cases[machine][case] = dict(states)
    return MockConfig(test_cases, responses)


def load_mock_config(source: str | Path | Mapping[str, Any] | MockConfig) -> MockConfig:
    """A mock configuration from a file path, a parsed document or a MockConfig."""
    if isinstance(source, MockConfig):
        return source
    if isinstance(source, Mapping):
        return parse_mock_config(dict(source))
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MockConfigError(f"cannot read mock configuration {path}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise MockConfigError(f"mock configuration {path} is not valid JSON: {exc}") from None
    return parse_mock_config(doc)


@dataclass(slots=True)
class _Session:
    """One execution's test case and how often each mocked state has run."""

    responses: Mapping[str, MockedResponse]
    execution: weakref.ReferenceType[Execution] | None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Mocks:
    """An engine's mock configuration and the executions that use a test case."""

    config: MockConfig | None
    sessions: dict[str, _Session] = field(default_factory=dict)


def install(services: Services, config: MockConfig | None) -> None:
    """Gives ``services`` (an engine's) the mock configuration executions may choose test cases from."""
    services.integrations.state[STATE_KEY] = _Mocks(config)


def split_test_case(services: Services, state_machine_arn: str) -> tuple[str, str | None]:
    """Splits ``ARN#TestCase`` into the ARN and the test case (None without ``#``).

    Without a mock configuration the ARN is returned whole: the engine then
    rejects it as AWS would.
    """
    arn, sep, case = state_machine_arn.partition("#")
    if not sep:
        return state_machine_arn, None
    mocks = services.integrations.state.get(STATE_KEY)
    if not isinstance(mocks, _Mocks) or mocks.config is None:
        return state_machine_arn, None
    return arn, case


def attach(
    services: Services,
    execution_arn: str,
    state_machine_name: str,
    test_case: str,
    *,
    config: MockConfig | None = None,
    execution: Execution | None = None,
) -> None:
    """Makes the execution ``execution_arn`` use ``test_case`` of the (given or installed) config.

    Raises MockConfigError when the test case does not exist.
    """
    mocks = services.integrations.state.get(STATE_KEY)
    if not isinstance(mocks, _Mocks):
        mocks = _Mocks(None)
        services.integrations.state[STATE_KEY] = mocks
    cfg = config or mocks.config
    if cfg is None:
        raise MockConfigError("no mock configuration is loaded (legato serve --mock-config FILE)")
    responses = cfg.test_case(state_machine_name, test_case)
    if len(mocks.sessions) >= 256:
        # Forget the sessions of executions that have ended.
        for arn, session in list(mocks.sessions.items()):
            ex = session.execution() if session.execution is not None else None
            if ex is None or ex.status != "RUNNING":
                del mocks.sessions[arn]
    ref = weakref.ref(execution) if execution is not None else None
    mocks.sessions[execution_arn] = _Session(responses, ref)


def mock_for(services: Services, execution_arn: str, state_name: str) -> Callable[[], Awaitable[Any]] | None:
    """The mocked call for this invocation of ``state_name``, or None when it runs for real.

    Each call counts one invocation of the state.
    """
    mocks = services.integrations.state.get(STATE_KEY)
    if mocks is None:
        return None
    session = mocks.sessions.get(execution_arn)
    if session is None:
        return None
    response = session.responses.get(state_name)
    if response is None:
        return None
    invocation = session.counts.get(state_name, 0)
    session.counts[state_name] = invocation + 1

    async def mocked() -> Any:
        return response.outcome(invocation)

    return mocked
