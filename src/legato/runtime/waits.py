"""How long a Wait state waits, with AWS's checks and messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legato import _json
from legato.asl.choice import parse_timestamp
from legato.asl.model import WaitState
from legato.errors import EvaluationError
from legato.expr.jsonata import JsonataTemplate
from legato.expr.paths import PathNotFound, VariableNotFound
from legato.expr.scope import Scope

# AWS refuses delays that do not fit a signed 32-bit number of seconds.
MAX_DELAY = 2**31 - 1


def _too_long(delay: float) -> float:
    if delay > MAX_DELAY:
        raise EvaluationError("States.Runtime", "Wait state delay is too long.")
    return max(0.0, delay)


def _until(text: str, now: float) -> float | None:
    ts = parse_timestamp(text)
    if ts is None:
        return None
    return _too_long(ts.timestamp() - now)


def wait_seconds(
    state: WaitState,
    scope: Scope | None,
    states: Mapping[str, Any] | None,
    variables: Mapping[str, Any],
    now: float,
) -> float:
    """The number of seconds ``state`` waits from ``now``."""
    if states is not None:
        if isinstance(state.seconds, JsonataTemplate):
            value = state.seconds.evaluate(states, variables, field="Seconds", now=now)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value != int(value)
                or value < 0
            ):
                raise EvaluationError(
                    "States.QueryEvaluationError",
                    f"The JSONata expression specified for the field 'Seconds' returned an invalid value: "
                    f"{_json.dumps(value)}",
                    "Seconds",
                )
            return _too_long(float(value))
        if isinstance(state.timestamp, JsonataTemplate):
            value = state.timestamp.evaluate(states, variables, field="Timestamp", now=now)
            delay = _until(value, now) if isinstance(value, str) else None
            if delay is None:
                raise EvaluationError(
                    "States.QueryEvaluationError",
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: "
                    f"{value if isinstance(value, str) else _json.dumps(value)}",
                    "Timestamp",
                )
            return delay
    if isinstance(state.seconds, int | float) and not isinstance(state.seconds, bool):
        return _too_long(float(state.seconds))
    if isinstance(state.timestamp, str):
        delay = _until(state.timestamp, now)
        if delay is None:
            raise EvaluationError(
                "States.QueryEvaluationError" if states is not None else "States.Runtime",
                "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: "
                f"{state.timestamp}",
                "Timestamp",
            )
        return delay
    assert scope is not None or states is None
    if state.seconds_path is not None and scope is not None:
        path = state.seconds_path
        try:
            value = path.resolve(scope)
        except (PathNotFound, VariableNotFound):
            raise EvaluationError(
                "States.Runtime", f"The SecondsPath parameter does not reference an input value: {path.text}"
            ) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise EvaluationError(
                "States.Runtime",
                f"The SecondsPath parameter cannot be parsed as a long value: {path.text} == {_json.dumps(value)}",
            )
        if value < 0:
            raise EvaluationError(
                "States.Runtime",
                f"The SecondsPath parameter references a negative value: {path.text} == {value}",
            )
        return _too_long(float(value))
    if state.timestamp_path is not None and scope is not None:
        path = state.timestamp_path
        try:
            value = path.resolve(scope)
        except (PathNotFound, VariableNotFound):
            value = None
        delay = _until(value, now) if isinstance(value, str) else None
        if delay is None:
            shown = value if isinstance(value, str) else _json.dumps(value)
            raise EvaluationError(
                "States.Runtime",
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
                f"format string: {path.text} == {shown}",
            )
        return delay
    return 0.0
