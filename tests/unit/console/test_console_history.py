"""The execution page's reading of a history: state visits, statuses and Map progress."""

from __future__ import annotations

from typing import Any

import legato
from legato.console import _graph, _history

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
CAUGHT = {
    "StartAt": "Try",
    "States": {
        "Try": {
            "Type": "Task",
            "Resource": FN + "boom",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover", "ResultPath": "$.error"}],
            "Next": "Never",
        },
        "Never": {"Type": "Pass", "End": True},
        "Recover": {"Type": "Pass", "Assign": {"recovered": True}, "End": True},
    },
}
MAP = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "Work",
                "States": {"Work": {"Type": "Task", "Resource": FN + "work", "End": True}},
            },
            "End": True,
        }
    },
}


def _boom(event: Any, context: Any) -> Any:
    raise RuntimeError("boom")


def _work(item: Any, context: Any) -> Any:
    if item == "bad":
        raise ValueError("bad item")
    return item


def test_a_caught_failure() -> None:
    result = legato.run(CAUGHT, {}, functions={"boom": _boom})
    assert result.status == "SUCCEEDED"
    visits = {v["name"]: v for v in _history.state_visits(result.history)}
    assert visits["Try"]["status"] == "caught" and visits["Try"]["error"] == "RuntimeError"
    assert visits["Recover"]["status"] == "succeeded"
    assert visits["Recover"]["variables"] == {"recovered": "true"}
    assert "Never" not in visits
    own = _graph._statuses_from_history(["Try", "Never", "Recover"], result.history)
    assert own == {"Try": "caught", "Never": "not-reached", "Recover": "succeeded"}
    assert _graph.statuses(__import__("json").dumps(CAUGHT), result.history) == own


def test_map_iterations_with_the_same_state_name() -> None:
    result = legato.run(MAP, ["a", "bad", "c"], functions={"work": _work})
    assert result.status == "FAILED"
    work = [v for v in _history.state_visits(result.history) if v["name"] == "Work"]
    by_input = {v["input"]: v["status"] for v in work}
    assert by_input['"a"'] == "succeeded" and by_input['"bad"'] == "failed"
    [progress] = _history.map_progress(result.history)
    assert progress["name"] == "Each" and progress["length"] == 3
    assert progress["failed"] == 1 and progress["status"] == "FAILED"
    own = _graph._statuses_from_history(["Each", "Work"], result.history)
    assert own == {"Each": "failed", "Work": "failed"}


def test_the_fallback_drawing_escapes_names() -> None:
    svg = _graph._fallback_svg(
        {"States": {"<b>x</b>": {"Type": "Pass", "End": True}}}, {"<b>x</b>": "succeeded"}
    )
    assert "<b>" not in svg and 'data-state="&lt;b&gt;x&lt;/b&gt;"' in svg and "status-succeeded" in svg
