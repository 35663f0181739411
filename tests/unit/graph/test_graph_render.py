"""legato.graph: one node per state, PNGs, colours from a history, labels, edge styles, errors."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest
from conftest import count_states, example_definitions, large_definition, load, sample_definitions

import legato
from legato.graph import GraphDefinitionError, GraphvizNotFound, render_png, render_svg, state_statuses

_GROUP = re.compile(r'<g id="([^"]+)" class="([^"]*)"([^>]*)>')


def _state_groups(svg: str) -> dict[str, str]:
    """``{data-state: classes}`` of every ``<g>`` whose class list holds ``state``."""
    found: dict[str, str] = {}
    for _, classes, rest in _GROUP.findall(svg):
        if "state" in classes.split():
            name = re.search(r'data-state="([^"]*)"', rest)
            assert name is not None
            assert name.group(1) not in found, f"two nodes for {name.group(1)}"
            found[name.group(1)] = classes
    return found


def _edges(svg: str, kind: str) -> list[str]:
    """The SVG text of every edge of ``kind``."""
    return re.findall(rf'<g id="e\d+" class="edge edge-{kind}">.*?</g>', svg, re.S)


DEFINITIONS = [*example_definitions(), *sample_definitions()]


def test_there_are_definitions_to_draw() -> None:
    assert example_definitions(), "examples/ has definitions"
    assert len(sample_definitions()) == 3, "the aggregator's three workflows are in ../shared/samples"


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_one_node_per_state(path: Path) -> None:
    text = path.read_text()
    svg = render_svg(text)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    groups = _state_groups(svg)
    assert len(groups) == count_states(load(path))
    assert set(groups) == set(state_statuses(text, None))


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_png(path: Path, tmp_path: Path) -> None:
    png = render_png(path.read_text())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 80 <= width <= 4000 and 80 <= height <= 8000
    assert len(png) > 2_000


def test_large_nested_definition_stays_readable() -> None:
    definition = large_definition()
    assert count_states(definition) >= 40
    svg = render_svg(definition)
    assert len(_state_groups(svg)) == count_states(definition)
    width, height = (float(v) for v in re.findall(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)[0])
    # Readable: branches side by side, not one very wide row or an unreadably small scale.
    assert width < 800 and height < 3000
    clusters = re.findall(r'class="cluster"', svg)
    assert len(clusters) == 5  # the Map, the Parallel, its three branches
    png = render_png(definition)
    assert struct.unpack(">II", png[16:24])[0] > 300


def _machine() -> dict[str, Any]:
    return {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.kind", "StringEquals": "fan", "Next": "Fan"},
                    {"Not": {"Variable": "$.kind", "IsPresent": True}, "Next": "Skipped"},
                ],
                "Default": "Skipped",
            },
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "Items",
                        "States": {
                            "Items": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "ItemProcessor": {
                                    "StartAt": "Each",
                                    "States": {"Each": {"Type": "Pass", "End": True}},
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "ResultPath": "$.fan",
                "Next": "Boom",
            },
            "Boom": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:boom",
                "Catch": [{"ErrorEquals": ["ValueError", "States.Timeout"], "Next": "Recover"}],
                "Next": "Skipped",
            },
            "Recover": {"Type": "Pass", "Next": "Stop"},
            "Stop": {"Type": "Fail", "Error": "Stopped"},
            "Skipped": {"Type": "Succeed"},
        },
    }


def _boom(event: Any, context: Any) -> Any:
    raise ValueError("boom")


def test_colours_from_a_finished_execution() -> None:
    result = legato.run(_machine(), {"kind": "fan", "items": [1, 2]}, functions={"boom": _boom})
    assert result.status == "FAILED"
    expected = {
        "Route": "succeeded",
        "Fan": "succeeded",
        "Left": "succeeded",
        "Items": "succeeded",
        "Each": "succeeded",
        "Boom": "caught",
        "Recover": "succeeded",
        "Stop": "failed",
        "Skipped": "not-reached",
    }
    assert state_statuses(_machine(), result.history) == expected
    groups = _state_groups(render_svg(_machine(), history=result.history))
    assert {name: classes.split()[-1] for name, classes in groups.items()} == {
        name: f"status-{status}" for name, status in expected.items()
    }


def test_colours_of_a_running_and_an_uncaught_failure() -> None:
    def event(i: int, kind: str, prev: int, **details: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"id": i, "previousEventId": prev, "type": kind}
        if details:
            event["stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"] = (
                details
            )
        return event

    machine = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Next": "B",
            },
            "B": {"Type": "Pass", "End": True},
        },
    }
    started = [event(1, "ExecutionStarted", 0), event(2, "TaskStateEntered", 1, name="A")]
    assert state_statuses(machine, started) == {"A": "running", "B": "not-reached"}
    failed = [*started, event(3, "LambdaFunctionFailed", 2), event(4, "ExecutionFailed", 3)]
    assert state_statuses(machine, failed) == {"A": "failed", "B": "not-reached"}
    retried = [*started, event(3, "LambdaFunctionFailed", 2), event(4, "LambdaFunctionSucceeded", 3)]
    retried += [event(5, "TaskStateExited", 4, name="A"), event(6, "PassStateEntered", 5, name="B")]
    assert state_statuses(machine, retried) == {"A": "succeeded", "B": "running"}


def test_no_history_means_no_status() -> None:
    svg = render_svg(_machine())
    assert all("status-" not in classes for classes in _state_groups(svg).values())
    assert set(state_statuses(_machine(), None).values()) == {"not-reached"}


def test_choice_rules_are_labelled() -> None:
    svg = render_svg(_machine())
    labels = " ".join(re.sub(r"<[^>]+>", " ", e) for e in _edges(svg, "choice"))
    assert "$.kind == &quot;fan&quot;" in labels or '$.kind == "fan"' in labels
    assert "not ($.kind is present)" in labels
    assert len(_edges(svg, "default")) == 1 and "Default" in _edges(svg, "default")[0]
    assert 'stroke-dasharray="1,5"' in _edges(svg, "default")[0]  # dotted


def test_jsonata_choice_rules_are_labelled() -> None:
    aggregator = next(p for p in sample_definitions() if p.name == "statemachine.asl.json")
    svg = render_svg(aggregator.read_text())
    text = " ".join(re.sub(r"<[^>]+>", " ", e) for e in _edges(svg, "choice"))
    assert "$states.input.JobRun.JobRunState" in text
    assert "{%" not in text


def test_catch_edges_are_dashed_and_name_the_errors() -> None:
    svg = render_svg(_machine())
    (catch,) = _edges(svg, "catch")
    assert 'stroke-dasharray="5,2"' in catch
    assert "ValueError, States.Timeout" in catch
    for edge in _edges(svg, "next"):
        assert "stroke-dasharray" not in edge


def test_start_end_and_boxes_are_drawn() -> None:
    svg = render_svg(_machine())
    assert 'class="marker start"' in svg and 'class="marker end"' in svg
    assert svg.count('class="cluster"') == 4  # Fan, its two branches, Items
    assert "<style>" in svg and ".status-failed" in svg


def test_names_are_escaped() -> None:
    machine = {"StartAt": 'a <b> & "c"', "States": {'a <b> & "c"': {"Type": "Pass", "End": True}}}
    svg = render_svg(machine)
    assert 'data-state="a &lt;b&gt; &amp; &quot;c&quot;"' in svg
    assert "<b>" not in svg


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ("not json", "INVALID_JSON_DESCRIPTION"),
        ({"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}}, "MISSING_TRANSITION_TARGET"),
        ({"States": {}}, "SCHEMA_VALIDATION_FAILED"),
    ],
)
def test_bad_definitions_give_a_clear_error(definition: Any, message: str) -> None:
    with pytest.raises(GraphDefinitionError) as caught:
        render_svg(definition)
    assert message in str(caught.value)
    assert str(caught.value).startswith("cannot draw an invalid definition")


def test_missing_graphviz_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGATO_DOT", "/nonexistent/dot")
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz"):
        render_png(_machine())
