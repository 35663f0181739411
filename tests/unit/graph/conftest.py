"""Definitions the graph tests draw: the examples, the aggregator's workflows, a large generated one."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT.parent / "shared" / "samples" / "distributed-data-stream-aggregator"


def example_definitions() -> list[Path]:
    """Every definition under examples/ (``*.asl.json``, ``*.asl.yaml``)."""
    return sorted(p for p in (ROOT / "examples").rglob("*.asl.*") if p.suffix in (".json", ".yaml", ".yml"))


def sample_definitions() -> list[Path]:
    """The Distributed Data Stream Aggregator's three workflows."""
    return sorted(SAMPLES.glob("*.asl.json"))


def count_states(container: Mapping[str, Any]) -> int:
    """States in a definition, those of Parallel branches and Map processors included."""
    total = 0
    for state in container["States"].values():
        total += 1
        for branch in state.get("Branches", ()):
            total += count_states(branch)
        processor = state.get("ItemProcessor", state.get("Iterator"))
        if processor:
            total += count_states(processor)
    return total


def _chain(prefix: str, n: int, last: Mapping[str, Any]) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(n):
        name = f"{prefix} step {i + 1}"
        states[name] = (
            {"Type": "Pass", "Next": f"{prefix} step {i + 2}"} if i < n - 1 else {"Type": "Pass", **last}
        )
    return {"StartAt": f"{prefix} step 1", "States": states}


def large_definition() -> dict[str, Any]:
    """A 40-state machine: a Map whose item processor holds a three-branch Parallel, Choices, a Catch."""
    parallel = {
        "Type": "Parallel",
        "Branches": [_chain(f"Branch {b}", 4, {"End": True}) for b in "ABC"],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Item failed"}],
        "Next": "Item ok?",
    }
    processor = {
        "StartAt": "Fetch item",
        "States": {
            "Fetch item": {"Type": "Pass", "Next": "Fan out"},
            "Fan out": parallel,
            "Item ok?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$[0]", "IsPresent": True, "Next": "Item done"}],
                "Default": "Item failed",
            },
            "Item failed": {"Type": "Pass", "End": True},
            "Item done": {"Type": "Pass", "End": True},
        },
    }
    states: dict[str, Any] = {}
    top = _chain("Prepare", 12, {"Next": "For each item"})["States"]
    states.update(top)
    states["For each item"] = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": processor,
        "ResultPath": "$.results",
        "Next": "Enough?",
    }
    states["Enough?"] = {
        "Type": "Choice",
        "Choices": [
            {
                "And": [
                    {"Variable": "$.n", "NumericGreaterThan": 3},
                    {"Variable": "$.mode", "StringEquals": "full"},
                ],
                "Next": "Finish step 1",
            },
            {"Not": {"Variable": "$.n", "IsNumeric": True}, "Next": "Give up"},
        ],
        "Default": "Finish step 1",
    }
    states["Give up"] = {"Type": "Fail", "Error": "NotEnough", "Cause": "too few items"}
    states.update(_chain("Finish", 8, {"Next": "Done"})["States"])
    states["Done"] = {"Type": "Succeed"}
    return {"Comment": "A large generated workflow", "StartAt": "Prepare step 1", "States": states}


@pytest.fixture(scope="session", autouse=True)
def _graphviz() -> Iterator[None]:
    """The graph tests need Graphviz's dot; in CI its absence is a failure, not a skip."""
    if shutil.which(os.environ.get("LEGATO_DOT", "dot")) is None:
        message = "Graphviz `dot` is not installed (apt-get install graphviz; .ci/install does it in CI)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield


def load(path: Path) -> dict[str, Any]:
    """A JSON definition file, parsed."""
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc
