"""One error hierarchy for Legato.

ASL error names are data: a failing state raises :class:`StatesError` with the
error name (``States.Runtime``, ``Lambda.Unknown``, a user's own name ...) and a
cause text, exactly as Step Functions reports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LegatoError(Exception):
    """Base class of every error Legato raises on purpose."""


class StatesError(LegatoError):
    """An ASL runtime error: what a Catch or Retry matches on.

    ``name`` is the error name (``States.TaskFailed``); ``cause`` the cause text,
    or ``None`` when the error has no cause.
    """

    def __init__(self, name: str, cause: str | None = None) -> None:
        super().__init__(name, cause)
        self.name = name
        self.cause = cause

    def __str__(self) -> str:
        return self.name if self.cause is None else f"{self.name}: {self.cause}"


class RetryAfterError(StatesError):
    """A StatesError from a service that asked not to be called again for ``retry_after``
    seconds (HTTP ``Retry-After`` on a 429 or 503): a Retrier that matches it waits at least
    that long, whatever its IntervalSeconds, BackoffRate, MaxDelaySeconds or jitter say."""

    def __init__(self, name: str, cause: str | None, retry_after: float) -> None:
        super().__init__(name, cause)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a state machine definition.

    ``code`` is the code AWS uses (``SCHEMA_VALIDATION_FAILED``,
    ``MISSING_TRANSITION_TARGET`` ...), ``location`` a JSON pointer such as
    ``/States/Check/Choices/0/Next``.
    """

    code: str
    message: str
    location: str = "/"
    severity: str = "ERROR"

    def __str__(self) -> str:
        return f"{self.location}: {self.code}: {self.message}"


class DefinitionError(LegatoError):
    """A definition that cannot run; carries every diagnostic found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(diagnostics)
        self.diagnostics = tuple(diagnostics)

    def __str__(self) -> str:
        return "; ".join(str(d) for d in self.diagnostics)


class ApiError(LegatoError):
    """An API-level error with AWS's error type, as the JSON 1.0 protocol reports it."""

    def __init__(self, type_: str, message: str, status: int = 400) -> None:
        super().__init__(type_, message)
        self.type = type_
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


class FunctionNotFound(LegatoError):
    """A Lambda-style task names a function that is not registered."""

    def __init__(self, name: str, registered: Sequence[str]) -> None:
        super().__init__(name, tuple(registered))
        self.name = name
        self.registered = tuple(registered)

    def __str__(self) -> str:
        known = ", ".join(sorted(self.registered)) or "none"
        return f"function {self.name!r} is not registered (registered functions: {known})"


class EvaluationError(StatesError):
    """An expression or a path could not be evaluated while running a state.

    Raised by ``legato.expr`` with ``cause`` holding AWS's message for the problem
    alone; the runtime prefixes it with the state's name and entry event id, as
    Step Functions does (``An error occurred while executing the state 'X'
    (entered at the event id #2). ...``). ``name`` is ``States.Runtime`` or
    ``States.QueryEvaluationError`` (or ``States.IntrinsicFailure`` ...);
    ``location`` is the field being evaluated, when known.
    """

    def __init__(self, name: str, cause: str, location: str | None = None) -> None:
        super().__init__(name, cause)
        self.location = location
