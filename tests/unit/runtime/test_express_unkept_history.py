"""An Express execution started by the engine keeps no history (nothing can read it), yet
numbers its events as one that keeps it: error causes name the same event ids."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import legato
from legato.engine import Engine
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


def test_the_same_outcome_and_event_ids_without_the_history() -> None:
    kept = legato.run(MACHINE, {"items": [1, 2, 3]}, type="EXPRESS")
    assert kept.status == "FAILED"
    assert kept.history  # legato.run keeps it: a test reads it

    async def go() -> tuple[dict[str, Any], Any]:
        engine = Engine(clock=VirtualClock())
        sm = await engine.create_state_machine(name="m", definition=json.dumps(MACHINE), type="EXPRESS")
        out = await engine.start_sync_execution(
            stateMachineArn=sm["stateMachineArn"], input='{"items": [1, 2, 3]}'
        )
        record = await engine.store.get_execution(out["executionArn"])
        await engine.aclose()
        return out, record

    out, record = asyncio.run(go())
    assert out["status"] == "FAILED"
    assert out["error"] == kept.error
    assert out["cause"] == kept.cause
    assert "(entered at the event id #" in out["cause"]
    assert record is None or record.history == []


def test_a_succeeding_express_run_gives_the_same_output() -> None:
    states = {k: v for k, v in MACHINE["States"].items() if k != "Broken"}
    machine = dict(MACHINE, States={**states, "Wait": {"Type": "Wait", "Seconds": 1, "End": True}})
    kept = legato.run(machine, {"items": [1, 2, 3]}, type="EXPRESS")

    async def go() -> dict[str, Any]:
        engine = Engine(clock=VirtualClock())
        sm = await engine.create_state_machine(name="m", definition=json.dumps(machine), type="EXPRESS")
        out = await engine.start_sync_execution(
            stateMachineArn=sm["stateMachineArn"], input='{"items": [1, 2, 3]}'
        )
        await engine.aclose()
        return out

    out = asyncio.run(go())
    assert out["status"] == kept.status == "SUCCEEDED"
    assert json.loads(out["output"]) == kept.output == [2, 4, 6]
