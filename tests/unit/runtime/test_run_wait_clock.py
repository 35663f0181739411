"""Wait states and the virtual clock through ``legato.run``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import legato
from legato import VirtualClock


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def wait(**fields: Any) -> dict[str, Any]:
    return machine({"W": {"Type": "Wait", **fields, "Next": "After"}, "After": {"Type": "Pass", "End": True}})


def waited(result: legato.ExecutionResult) -> float:
    """Seconds between WaitStateEntered and WaitStateExited."""
    entered = next(e for e in result.history if e["type"] == "WaitStateEntered")
    exited = next(e for e in result.history if e["type"] == "WaitStateExited")
    return (exited["timestamp"] - entered["timestamp"]).total_seconds()


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_wait_seconds_takes_no_real_time() -> None:
    clock = VirtualClock()
    started_real = time.monotonic()
    started_virtual = clock.time()
    result = legato.run(wait(Seconds=3600), {"k": 1}, clock=clock)
    assert (result.status, result.output) == ("SUCCEEDED", {"k": 1})
    assert time.monotonic() - started_real < 10
    assert clock.time() - started_virtual >= 3600
    assert waited(result) == pytest.approx(3600, abs=0.5)
    types = [e["type"] for e in result.history]
    assert types == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    # Timestamps never go backwards.
    stamps = [e["timestamp"] for e in result.history]
    assert stamps == sorted(stamps)


def test_wait_zero_seconds() -> None:
    result = legato.run(wait(Seconds=0), {}, clock=VirtualClock())
    assert result.status == "SUCCEEDED"
    assert waited(result) == pytest.approx(0, abs=0.5)


def test_consecutive_waits_add_up() -> None:
    definition = machine(
        {
            "W1": {"Type": "Wait", "Seconds": 100, "Next": "W2"},
            "W2": {"Type": "Wait", "Seconds": 200, "End": True},
        }
    )
    result = legato.run(definition, {}, clock=VirtualClock())
    elapsed = (result.history[-1]["timestamp"] - result.history[0]["timestamp"]).total_seconds()
    assert elapsed == pytest.approx(300, abs=0.5)


def test_context_times_follow_the_virtual_clock() -> None:
    definition = machine(
        {
            "W": {"Type": "Wait", "Seconds": 7200, "Next": "P"},
            "P": {
                "Type": "Pass",
                "Parameters": {"start.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"},
                "End": True,
            },
        }
    )
    out = legato.run(definition, {}, clock=VirtualClock()).output
    start = datetime.fromisoformat(out["start"].replace("Z", "+00:00"))
    entered = datetime.fromisoformat(out["entered"].replace("Z", "+00:00"))
    assert (entered - start).total_seconds() == pytest.approx(7200, abs=1)


def test_seconds_path() -> None:
    result = legato.run(wait(SecondsPath="$.s"), {"s": 90}, clock=VirtualClock())
    assert result.output == {"s": 90}
    assert waited(result) == pytest.approx(90, abs=0.5)


def test_seconds_path_reads_variables_and_context() -> None:
    definition = machine(
        {
            "Set": {"Type": "Pass", "Assign": {"delay": 45}, "Next": "W"},
            "W": {"Type": "Wait", "SecondsPath": "$delay", "End": True},
        }
    )
    result = legato.run(definition, {}, clock=VirtualClock())
    assert waited(result) == pytest.approx(45, abs=0.5)
    ctx = legato.run(wait(SecondsPath="$$.Execution.Input.s"), {"s": 5}, clock=VirtualClock())
    assert waited(ctx) == pytest.approx(5, abs=0.5)


def test_wait_input_path_output_path() -> None:
    result = legato.run(
        wait(Seconds=1, InputPath="$.a", OutputPath="$.b"), {"a": {"b": 2}}, clock=VirtualClock()
    )
    assert result.output == 2


@pytest.mark.parametrize(
    ("given", "cause"),
    [
        ({"s": "x"}, 'The SecondsPath parameter cannot be parsed as a long value: $.s == "x"'),
        ({"s": None}, "The SecondsPath parameter cannot be parsed as a long value: $.s == null"),
        ({"s": True}, "The SecondsPath parameter cannot be parsed as a long value: $.s == true"),
        ({"s": [1]}, "The SecondsPath parameter cannot be parsed as a long value: $.s == [1]"),
        ({"s": -1}, "The SecondsPath parameter references a negative value: $.s == -1"),
        ({}, "The SecondsPath parameter does not reference an input value: $.s"),
        ({"s": 2**31}, "Wait state delay is too long."),
    ],
)
def test_bad_seconds_path(given: Any, cause: str) -> None:
    result = legato.run(wait(SecondsPath="$.s"), given, clock=VirtualClock())
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "States.Runtime",
        f"An error occurred while executing the state 'W' (entered at the event id #2). {cause}",
    )
    assert [e["type"] for e in result.history] == ["ExecutionStarted", "WaitStateEntered", "ExecutionFailed"]


def test_timestamp_waits_until_then() -> None:
    clock = VirtualClock()
    target = datetime.fromtimestamp(clock.time(), tz=UTC).replace(microsecond=0) + timedelta(hours=2)
    result = legato.run(wait(Timestamp=iso(target)), {}, clock=clock)
    exited = next(e for e in result.history if e["type"] == "WaitStateExited")
    assert abs((exited["timestamp"] - target).total_seconds()) < 0.5


def test_timestamp_path_with_offset_and_fraction() -> None:
    clock = VirtualClock()
    target = datetime.fromtimestamp(clock.time(), tz=UTC).replace(microsecond=0) + timedelta(minutes=30)
    text = target.astimezone(timezone_plus_two()).strftime("%Y-%m-%dT%H:%M:%S.250+02:00")
    result = legato.run(wait(TimestampPath="$.t"), {"t": text}, clock=clock)
    exited = next(e for e in result.history if e["type"] == "WaitStateExited")
    assert abs((exited["timestamp"] - target).total_seconds() - 0.25) < 0.5


def timezone_plus_two() -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_timestamp_in_the_past_does_not_wait() -> None:
    result = legato.run(wait(Timestamp="2000-01-01T00:00:00Z"), {}, clock=VirtualClock())
    assert result.status == "SUCCEEDED"
    assert waited(result) == pytest.approx(0, abs=0.5)


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ({"t": "bad"}, "bad"),
        ({"t": "2016-12-05T21:29:29"}, "2016-12-05T21:29:29"),
        ({"t": 5}, "5"),
        ({}, "null"),
    ],
)
def test_bad_timestamp_path(given: Any, shown: str) -> None:
    result = legato.run(wait(TimestampPath="$.t"), given, clock=VirtualClock())
    assert (result.error, result.cause) == (
        "States.Runtime",
        "An error occurred while executing the state 'W' (entered at the event id #2). The TimestampPath parameter "
        f"does not reference a valid ISO-8601 extended offset date-time format string: $.t == {shown}",
    )


def test_jsonata_seconds_and_timestamp() -> None:
    definition = machine(
        {
            "W": {
                "Type": "Wait",
                "Seconds": "{% $states.input.s * 2 %}",
                "Output": {"done": True},
                "End": True,
            }
        },
        QueryLanguage="JSONata",
    )
    result = legato.run(definition, {"s": 30}, clock=VirtualClock())
    assert result.output == {"done": True}
    assert waited(result) == pytest.approx(60, abs=0.5)
    definition = machine(
        {"W": {"Type": "Wait", "Timestamp": "{% $states.input.t %}", "End": True}}, QueryLanguage="JSONata"
    )
    assert legato.run(definition, {"t": "2000-01-01T00:00:00Z"}, clock=VirtualClock()).status == "SUCCEEDED"


@pytest.mark.parametrize(("value", "shown"), [("-1", "-1"), ("1.5", "1.5"), ("'x'", '"x"')])
def test_jsonata_bad_seconds(value: str, shown: str) -> None:
    definition = machine(
        {"W": {"Type": "Wait", "Seconds": f"{{% {value} %}}", "End": True}}, QueryLanguage="JSONata"
    )
    result = legato.run(definition, {}, clock=VirtualClock())
    assert (result.error, result.cause) == (
        "States.QueryEvaluationError",
        "An error occurred while executing the state 'W' (entered at the event id #2). The JSONata expression "
        f"specified for the field 'Seconds' returned an invalid value: {shown}",
    )


def test_retry_interval_uses_the_clock() -> None:
    calls: list[float] = []
    clock = VirtualClock()

    def fn(event: Any, context: Any) -> Any:
        calls.append(clock.time())
        if len(calls) < 2:
            raise RuntimeError("again")
        return "ok"

    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fn",
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 600}],
                "End": True,
            }
        }
    )
    started = time.monotonic()
    result = legato.run(definition, {}, functions={"fn": fn}, clock=clock)
    assert result.output == "ok"
    assert calls[1] - calls[0] == pytest.approx(600, abs=0.5)
    assert time.monotonic() - started < 10


def test_function_sleep_advances_virtual_time() -> None:
    clock = VirtualClock()

    def fn(event: Any, context: Any) -> Any:
        before = clock.time()
        context.sleep(300)
        return clock.time() - before

    definition = machine(
        {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fn", "End": True}}
    )
    started = time.monotonic()
    result = legato.run(definition, {}, functions={"fn": fn}, clock=clock)
    assert result.output == pytest.approx(300, abs=0.5)
    assert time.monotonic() - started < 10


def test_virtual_clock_can_be_reused_across_runs() -> None:
    clock = VirtualClock()
    first = clock.time()
    for _ in range(3):
        assert legato.run(wait(Seconds=1000), {}, clock=clock).status == "SUCCEEDED"
    assert clock.time() - first >= 3000
