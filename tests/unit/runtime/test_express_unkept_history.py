"""An Express execution started by the engine keeps no history (nothing can read it), yet
numbers its events as one that keeps it: error causes name the same event ids."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import legato
from legato.engine import Engine
from legato.runtime import maps
from legato.runtime.clock import VirtualClock

# Three items through an inline Map, then a state that fails on a missing field: the
# cause names the id of the event the failing state entered at.
MACHINE: dict[str, Any] = {
    "QueryLanguage": "JSONata",
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "Items": "{% $states.input.items %}",
            "ItemProcessor": {
                "StartAt": "Double",
                "States": {"Double": {"Type": "Pass", "Output": "{% $states.input * 2 %}", "End": True}},
            },
            "Next": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Broken"},
        "Broken": {"Type": "Pass", "Output": "{% $states.input.missing %}", "End": True},
    },
}


def _run_both(machine: dict[str, Any], value: Any) -> tuple[Any, dict[str, Any], Any]:
    """The run that keeps the history (``legato.run``), the engine's StartSyncExecution
    response, and what the engine's store holds of that execution afterwards."""
    kept = legato.run(machine, value, type="EXPRESS")

    async def go() -> tuple[dict[str, Any], Any]:
        engine = Engine(clock=VirtualClock())
        sm = await engine.create_state_machine(name="m", definition=json.dumps(machine), type="EXPRESS")
        out = await engine.start_sync_execution(
            stateMachineArn=sm["stateMachineArn"], input=json.dumps(value)
        )
        record = await engine.store.get_execution(out["executionArn"])
        await engine.aclose()
        return out, record

    out, record = asyncio.run(go())
    return kept, out, record


def _both(machine: dict[str, Any], value: Any) -> tuple[Any, dict[str, Any]]:
    kept, out, _ = _run_both(machine, value)
    return kept, out


def test_the_same_outcome_and_event_ids_without_the_history() -> None:
    kept, out, record = _run_both(MACHINE, {"items": [1, 2, 3]})
    assert kept.status == "FAILED"
    assert kept.history  # legato.run keeps it: a test reads it
    assert out["status"] == "FAILED"
    assert out["error"] == kept.error
    assert out["cause"] == kept.cause
    assert "(entered at the event id #" in out["cause"]
    assert record is None or record.history == []


def test_a_succeeding_express_run_gives_the_same_output() -> None:
    states = {k: v for k, v in MACHINE["States"].items() if k != "Broken"}
    machine = dict(MACHINE, States={**states, "Wait": {"Type": "Wait", "Seconds": 1, "End": True}})
    kept, out = _both(machine, {"items": [1, 2, 3]})
    assert out["status"] == kept.status == "SUCCEEDED"
    assert json.loads(out["output"]) == kept.output == [2, 4, 6]


# A row formatter: one Pass state whose Output only reads plain paths.
FORMATTER: dict[str, Any] = {
    "QueryLanguage": "JSONata",
    "StartAt": "Set",
    "States": {
        "Set": {
            "Type": "Pass",
            "Assign": {"k": "key"},
            "Output": "{% $states.input.items %}",
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "Format",
                "States": {
                    "Format": {
                        "Type": "Pass",
                        "Output": {
                            "id": "{% $states.input.id %}",
                            "k": "{% $k %}",
                            "m": "{% $states.input.e[0].m %}",
                        },
                        "End": True,
                    }
                },
            },
            "Next": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Broken"},
        "Broken": {"Type": "Pass", "Output": "{% $states.input.missing %}", "End": True},
    },
}


def test_a_row_formatter_gives_the_same_outcome_and_event_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[bool] = []
    original = maps._pass_formatter

    def spy(*args: Any) -> Any:
        formatter = original(*args)
        used.append(formatter is not None)
        return formatter

    monkeypatch.setattr(maps, "_pass_formatter", spy)
    rows = [{"id": i, "e": [{"m": f"m{i}"}]} for i in range(5)]
    # an object where an array is expected: JSONata's singleton rule, answered by jsonatapy
    rows[2] = {"id": 2, "e": {"m": "single"}}
    kept, out = _both(FORMATTER, {"items": rows})
    assert out["status"] == kept.status == "FAILED"
    assert out["cause"] == kept.cause  # the same event ids, numbered without the history
    succeeding = dict(
        FORMATTER, States={**FORMATTER["States"], "Wait": {"Type": "Wait", "Seconds": 1, "End": True}}
    )
    del succeeding["States"]["Broken"]
    kept, out = _both(succeeding, {"items": rows})
    assert out["status"] == kept.status == "SUCCEEDED"
    assert json.loads(out["output"]) == kept.output
    assert kept.output[2] == {"id": 2, "k": "key", "m": "single"}
    assert used == [False, True, False, True]  # legato.run keeps the history; the engine's run does not


def test_a_row_the_formatter_cannot_take_fails_as_it_would_anyway() -> None:
    rows = [{"id": 0, "e": [{"m": "a"}]}, {"id": 1, "e": []}, {"id": 2, "e": [{"m": "c"}]}]
    kept, out = _both(FORMATTER, {"items": rows})
    assert out["status"] == kept.status == "FAILED"
    assert out["error"] == kept.error == "States.QueryEvaluationError"
    assert out["cause"] == kept.cause
    assert "Output/m" in out["cause"]


def test_rows_small_alone_but_too_large_together_fail_the_map_as_they_would_anyway() -> None:
    machine: dict[str, Any] = {
        "QueryLanguage": "JSONata",
        "StartAt": "Set",
        "States": {
            "Set": {
                "Type": "Pass",
                "Assign": {"big": "{% $join([1..5000].('abcde')) %}"},
                "Output": "{% [1..12] %}",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Format",
                    "States": {"Format": {"Type": "Pass", "Output": {"b": "{% $big %}"}, "End": True}},
                },
                "End": True,
            },
        },
    }
    kept, out = _both(machine, {})
    assert out["status"] == kept.status == "FAILED"
    assert out["error"] == kept.error == "States.DataLimitExceeded"
    assert out["cause"] == kept.cause
