"""Static validation: targeted rules, then the AWS-recorded conformance cases."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from legato.asl.load import load_document
from legato.asl.validate import check, invalid_definition_message, validate
from legato.errors import DefinitionError, Diagnostic

SHARED = Path(os.environ.get("LEGATO_SHARED", Path(__file__).parents[3].parent / "shared"))
CASES = SHARED / "conformance" / "cases"
# The recordings replace the activity ARN by a placeholder; put a real-looking one back.
ACTIVITY = "arn:aws:states:us-east-1:111111111111:activity:recorded"


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def errors(doc: Any, **kwargs: Any) -> list[tuple[str, str]]:
    return [(d.code, d.location) for d in validate(doc, **kwargs) if d.severity == "ERROR"]


def messages(doc: Any, **kwargs: Any) -> list[str]:
    return [d.message for d in validate(doc, **kwargs)]


PASS_END = {"Type": "Pass", "End": True}
SCHEMA = "SCHEMA_VALIDATION_FAILED"
MISSING = "MISSING_TRANSITION_TARGET"


# -- structure ---------------------------------------------------------------------


def test_valid_machine_has_no_diagnostics() -> None:
    assert validate(machine({"A": PASS_END})) == []


def test_definition_must_be_an_object() -> None:
    assert validate([1]) == [Diagnostic(SCHEMA, "Definition must be a valid JSON object", "")]


def test_required_top_level_fields() -> None:
    assert validate({}) == [Diagnostic(SCHEMA, "These fields are required: [States, StartAt]", "/")]


def test_misspelled_field_suggests_the_closest_name() -> None:
    doc = machine({"A": {"Type": "Pass", "End": True, "ResultPth": "$.x"}})
    [diag] = validate(doc)
    assert (diag.code, diag.location) == (SCHEMA, "/States/A")
    assert diag.message == "Field 'ResultPth' is not supported (did you mean 'ResultPath'?)"


def test_field_of_another_state_type_is_not_supported() -> None:
    doc = machine({"X": {"Type": "Pass", "TimeoutSeconds": 5, "End": True}})
    assert messages(doc) == ["Field 'TimeoutSeconds' is not supported"]


def test_unknown_state_type() -> None:
    doc = machine({"A": {"Type": "Job", "End": True}})
    assert errors(doc) == [(SCHEMA, "/States/A/Type")]
    assert "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]" in messages(doc)[0]


def test_missing_type() -> None:
    assert validate(machine({"A": {"End": True}})) == [
        Diagnostic(SCHEMA, "These fields are required: [Type]", "/States/A")
    ]


def test_field_types() -> None:
    doc = machine({"A": {"Type": "Pass", "End": True, "Comment": 5}})
    assert validate(doc) == [Diagnostic(SCHEMA, "Expected value of type [STRING]", "/States/A/Comment")]


def test_next_and_end_are_exclusive_and_one_is_required() -> None:
    assert errors(machine({"A": {"Type": "Pass", "Next": "A", "End": True}})) == [(SCHEMA, "/States/A")]
    assert errors(machine({"A": {"Type": "Pass"}, "B": PASS_END})) == [
        (SCHEMA, "/States/A"),
        (MISSING, "/States/B"),
    ]


# -- transitions and the graph -----------------------------------------------------------


def test_missing_transition_target_and_unreachable_state_message() -> None:
    doc = machine({"pass1": {"Type": "Pass", "Next": "pass3"}, "pass2": PASS_END})
    assert invalid_definition_message(validate(doc)) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at "
        '/States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2\''
    )


@pytest.mark.parametrize(
    ("state", "location"),
    [
        ({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Ghost"}], "Default": "Z"},
         "/States/A/Choices[0]/Next"),
        ({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Z"}], "Default": "Ghost"},
         "/States/A/Default"),
        ({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Z",
          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Ghost"}]}, "/States/A/Catch[0]/Next"),
    ],
)  # fmt: skip
def test_dangling_targets_are_located_at_their_field(state: dict[str, Any], location: str) -> None:
    doc = machine({"A": state, "Z": PASS_END})
    assert validate(doc) == [Diagnostic(MISSING, "Missing 'Next' target: Ghost", location)]


def test_dangling_start_at() -> None:
    assert errors(machine({"A": PASS_END}, start="Nope")) == [(MISSING, "/StartAt"), (MISSING, "/States/A")]


def test_no_terminal_state() -> None:
    doc = machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}})
    assert validate(doc) == [Diagnostic("MISSING_END_STATE", "Workflow has no terminal state", "")]
    assert invalid_definition_message(validate(doc)).endswith("Workflow has no terminal state at null'")


def test_loop_inside_a_map_is_accepted() -> None:
    loop = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}
    doc = machine({"M": {"Type": "Map", "ItemProcessor": machine(loop), "End": True}})
    assert validate(doc) == []


def test_unreachable_state_in_a_branch() -> None:
    doc = machine(
        {"P": {"Type": "Parallel", "Branches": [machine({"W": PASS_END, "Ghost": PASS_END})], "End": True}}
    )
    assert errors(doc) == [(MISSING, "/States/P/Branches[0]/States/Ghost")]


def test_duplicate_state_names_across_scopes() -> None:
    doc = machine({"A": {"Type": "Parallel", "Branches": [machine({"A": PASS_END})], "End": True}})
    assert errors(doc) == [("DUPLICATE_STATE_NAME", "/States/A/Branches[0]/States/A")]


# -- state types -------------------------------------------------------------------------


def test_task_needs_resource_and_credentials_need_role_arn() -> None:
    assert errors(machine({"T": {"Type": "Task", "End": True}})) == [(SCHEMA, "/States/T")]
    doc = machine(
        {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Credentials": {}, "End": True}}
    )
    assert messages(doc) == ["The field 'RoleArn' is required but was missing"]


def test_task_timeouts() -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    both = machine({"T": {**task, "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"}})
    assert errors(both) == [(SCHEMA, "/States/T/TimeoutSeconds")]
    heartbeat = machine({"T": {**task, "TimeoutSeconds": 5, "HeartbeatSeconds": 5}})
    assert errors(heartbeat) == [(SCHEMA, "/States/T/HeartbeatSeconds")]
    assert errors(machine({"T": {**task, "TimeoutSeconds": 0}})) == [(SCHEMA, "/States/T/TimeoutSeconds")]


def test_unknown_optimised_integration() -> None:
    doc = machine({"Q": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:query", "End": True}})
    assert errors(doc) == [(SCHEMA, "/States/Q/Resource")]


def test_express_rules() -> None:
    sync = machine(
        {"S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync", "End": True}}
    )
    assert errors(sync) == []
    assert messages(sync, state_machine_type="EXPRESS") == [
        "Express state machine does not support '.sync' service integration"
    ]


def test_retry_rules() -> None:
    def retry(*retriers: dict[str, Any]) -> dict[str, Any]:
        task = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "End": True,
            "Retry": list(retriers),
        }
        return machine({"T": task})

    assert errors(retry({"ErrorEquals": ["States.ALL", "X"]})) == [(SCHEMA, "/States/T/Retry[0]/ErrorEquals")]
    assert errors(retry({"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]})) == [
        (SCHEMA, "/States/T/Retry[0]")
    ]
    assert errors(retry({"ErrorEquals": []})) == [(SCHEMA, "/States/T/Retry[0]/ErrorEquals")]
    bad = {
        "ErrorEquals": ["X"],
        "MaxAttempts": -1,
        "BackoffRate": 0.5,
        "IntervalSeconds": 0,
        "JitterStrategy": "HALF",
    }
    assert errors(retry(bad)) == [
        (SCHEMA, "/States/T/Retry[0]/IntervalSeconds"),
        (SCHEMA, "/States/T/Retry[0]/MaxAttempts"),
        (SCHEMA, "/States/T/Retry[0]/BackoffRate"),
        (SCHEMA, "/States/T/Retry[0]/JitterStrategy"),
    ]
    assert errors(retry({"ErrorEquals": ["X"], "MaxDelaySeconds": 0})) == [
        (SCHEMA, "/States/T/Retry[0]/MaxDelaySeconds")
    ]


def test_wait_needs_exactly_one_duration() -> None:
    assert errors(machine({"W": {"Type": "Wait", "End": True}})) == [(SCHEMA, "/States/W")]
    both = machine({"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}})
    assert errors(both) == [(SCHEMA, "/States/W/Seconds")]


@pytest.mark.parametrize(
    "stamp", ["2016-13-05T21:29:29Z", "2016-12-05 21:29:29Z", "2016-12-05T21:29:29", "x"]
)
def test_wait_timestamp_must_be_rfc3339(stamp: str) -> None:
    doc = machine({"W": {"Type": "Wait", "Timestamp": stamp, "End": True}})
    assert validate(doc) == [
        Diagnostic(SCHEMA, "String does not match RFC3339 timestamp", "/States/W/Timestamp")
    ]


def test_wait_timestamp_accepts_fractions_and_offsets() -> None:
    for stamp in ("2016-03-05T21:29:29.243167252Z", "2016-03-05T21:29:29+02:00"):
        assert validate(machine({"W": {"Type": "Wait", "Timestamp": stamp, "End": True}})) == []


def test_fail_error_and_error_path_are_exclusive() -> None:
    doc = machine({"F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}})
    assert errors(doc) == [(SCHEMA, "/States/F/Error")]


def test_choice_rules() -> None:
    def choice(rule: dict[str, Any]) -> dict[str, Any]:
        return machine(
            {"C": {"Type": "Choice", "Choices": [{**rule, "Next": "Z"}], "Default": "Z"}, "Z": PASS_END}
        )

    assert validate(choice({"Variable": "$.x", "NumericEqualsPath": "$.y"})) == []
    assert (
        validate(
            choice(
                {
                    "And": [
                        {"Variable": "$.x", "IsNull": False},
                        {"Not": {"Variable": "$.y", "IsString": True}},
                    ]
                }
            )
        )
        == []
    )
    assert errors(choice({"NumericEquals": 1})) == [(SCHEMA, "/States/C/Choices[0]")]
    assert errors(choice({"Variable": "$.x"})) == [(SCHEMA, "/States/C/Choices[0]")]
    assert errors(choice({"Variable": "$.x", "NumericEquals": "1"})) == [
        (SCHEMA, "/States/C/Choices[0]/NumericEquals")
    ]
    assert errors(choice({"Variable": "$.x", "StringEqualsPath": "x"})) == [
        (SCHEMA, "/States/C/Choices[0]/StringEqualsPath")
    ]
    assert errors(choice({"Variable": "$.x", "TimestampEquals": "nope"})) == [
        (SCHEMA, "/States/C/Choices[0]/TimestampEquals")
    ]
    assert errors(choice({"And": []})) == [(SCHEMA, "/States/C/Choices[0]/And")]
    assert errors(choice({"Condition": "{% true %}"})) == [
        (SCHEMA, "/States/C/Choices[0]"),
        (SCHEMA, "/States/C/Choices[0]"),
    ]
    empty = machine({"C": {"Type": "Choice", "Choices": []}})
    assert errors(empty) == [(SCHEMA, "/States/C/Choices"), ("MISSING_END_STATE", "")]


def test_jsonata_choice_needs_condition() -> None:
    doc = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "Z"}],
                "Default": "Z",
            },
            "Z": PASS_END,
        },
        QueryLanguage="JSONata",
    )
    assert errors(doc) == [
        (SCHEMA, "/States/C/Choices[0]"),
        (SCHEMA, "/States/C/Choices[0]"),
        (SCHEMA, "/States/C/Choices[0]"),
    ]


def test_parallel_branches_cannot_be_empty() -> None:
    doc = machine({"P": {"Type": "Parallel", "Branches": [], "End": True}})
    assert validate(doc) == [Diagnostic(SCHEMA, "Value cannot be empty", "/States/P/Branches")]


def test_map_rules() -> None:
    def map_state(**fields: Any) -> dict[str, Any]:
        return machine(
            {"M": {"Type": "Map", "ItemProcessor": machine({"P": PASS_END}), "End": True, **fields}}
        )

    assert errors(map_state(MaxConcurrency=-1)) == [(SCHEMA, "/States/M/MaxConcurrency")]
    assert errors(map_state(MaxConcurrency=2, MaxConcurrencyPath="$.n")) == [
        (SCHEMA, "/States/M/MaxConcurrency")
    ]
    assert errors(map_state(ToleratedFailurePercentage=101)) == [
        (SCHEMA, "/States/M/ToleratedFailurePercentage")
    ]
    assert messages(map_state(Label="a b")) == ["Label contains invalid character: ' '"]
    assert messages(map_state(Label="")) == ["Label cannot be empty"]
    assert errors(machine({"M": {"Type": "Map", "End": True}})) == [(SCHEMA, "/States/M")]
    legacy = {"Type": "Map", "Iterator": machine({"P": PASS_END}), "End": True}
    assert validate(machine({"M": legacy})) == []
    config = {"ProcessorConfig": {"Mode": "PARALLEL"}, **machine({"P": PASS_END})}
    doc = machine({"M": {"Type": "Map", "ItemProcessor": config, "End": True}})
    assert errors(doc) == [(SCHEMA, "/States/M/ItemProcessor/ProcessorConfig/Mode")]
    assert errors(
        map_state(
            ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "X"}}
        )
    ) == [(SCHEMA, "/States/M/ItemReader/ReaderConfig/InputType")]
    assert errors(
        map_state(ResultWriter={"WriterConfig": {"Transformation": "X", "OutputType": "JSON"}})
    ) == [(SCHEMA, "/States/M/ResultWriter/WriterConfig/Transformation")]
    assert errors(map_state(ItemBatcher={"MaxItemsPerBatch": 0})) == [
        (SCHEMA, "/States/M/ItemBatcher/MaxItemsPerBatch")
    ]


# -- paths, templates, variables --------------------------------------------------------------


def test_paths_must_be_valid() -> None:
    doc = machine(
        {"A": {"Type": "Pass", "End": True, "InputPath": "a.b", "ResultPath": "$.a[*]", "OutputPath": None}}
    )
    assert errors(doc) == [(SCHEMA, "/States/A/InputPath"), (SCHEMA, "/States/A/ResultPath")]


def test_dynamic_keys_hold_a_path_or_an_intrinsic() -> None:
    doc = machine(
        {
            "A": {
                "Type": "Pass",
                "End": True,
                "Parameters": {"ok.$": "$$.Execution.Id", "x": {"bad.$": "nope"}},
            }
        }
    )
    assert validate(doc) == [
        Diagnostic(
            SCHEMA,
            "The value for the field 'bad.$' must be a valid JSONPath or a valid intrinsic function call",
            "/States/A/Parameters/x",
        )
    ]


def test_assign_variable_names() -> None:
    doc = machine(
        {"A": {"Type": "Pass", "End": True, "Assign": {"ok": 1, "x.$": "$.a", "states": 1, "1bad": 2}}}
    )
    assert errors(doc) == [(SCHEMA, "/States/A/Assign"), (SCHEMA, "/States/A/Assign")]


# -- query languages ------------------------------------------------------------------------------


def test_jsonpath_fields_are_refused_in_jsonata_states() -> None:
    doc = machine({"X": {"Type": "Pass", "InputPath": "$.a", "End": True}}, QueryLanguage="JSONata")
    assert messages(doc) == [
        "The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for the 'JSONPath' QueryLanguage"
    ]


def test_jsonata_fields_are_refused_in_jsonpath_states() -> None:
    doc = machine(
        {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {}, "End": True}}
    )
    assert errors(doc) == [(SCHEMA, "/States/T")]


def test_state_cannot_downgrade_a_jsonata_machine() -> None:
    doc = machine({"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}, QueryLanguage="JSONata")
    assert messages(doc) == [
        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
    ]
    upgrade = machine({"P": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"a": 1}, "End": True}})
    assert validate(upgrade) == []


def test_query_language_enum() -> None:
    doc = machine({"P": PASS_END}, QueryLanguage="jsonata")
    assert errors(doc) == [(SCHEMA, "/QueryLanguage")]


def test_jsonata_expressions_must_compile() -> None:
    pytest.importorskip("legato.expr.jsonata")
    doc = machine({"P": {"Type": "Pass", "Output": "{% 1 + %}", "End": True}}, QueryLanguage="JSONata")
    assert validate(doc) == [
        Diagnostic("INVALID_JSONATA_EXPRESSION", "Unexpected end of expression", "/States/P/Output")
    ]


def test_jsonata_numbers_accept_expressions() -> None:
    doc = machine(
        {"W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": True}}, QueryLanguage="JSONata"
    )
    assert errors(doc) == []
    literal = machine({"W": {"Type": "Wait", "Seconds": "5", "End": True}}, QueryLanguage="JSONata")
    assert errors(literal) == [(SCHEMA, "/States/W/Seconds")]


# -- check and the InvalidDefinition message --------------------------------------------------------


def test_check_raises_with_every_error() -> None:
    with pytest.raises(DefinitionError) as info:
        check({"StartAt": "A"})
    assert info.value.diagnostics == (Diagnostic(SCHEMA, "These fields are required: [States]", "/"),)
    check(machine({"A": PASS_END}))


def test_invalid_definition_message_ignores_warnings() -> None:
    diags = [Diagnostic(SCHEMA, "m", "/States/A"), Diagnostic("W", "w", "/", "WARNING")]
    assert (
        invalid_definition_message(diags)
        == "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: m at /States/A'"
    )


# -- conformance: definitions AWS rejected -----------------------------------------------------------


def _rejected_cases() -> list[Any]:
    cases = []
    for path in sorted(CASES.glob("validation_errors/*/*.json")):
        case = json.loads(path.read_text())
        text = json.dumps(case["expected"])
        if case["api_call"] == "test_state" and "Invalid State Machine Definition" in text:
            cases.append(pytest.param(case, id=path.stem))
        elif case["api_call"] in (
            "create_state_machine",
            "update_state_machine",
            "validate_state_machine_definition",
        ):
            if "InvalidDefinition" in text or "diagnostics" in text:
                cases.append(pytest.param(case, id=path.stem))
    return cases


def _actual(case: dict[str, Any]) -> list[Diagnostic]:
    request = case["request"]
    definition = request["definition"]
    if case["api_call"] == "test_state" and "stateName" not in request:
        definition = {"StartAt": "StateName", "States": {"StateName": definition}}
    definition = json.loads(json.dumps(definition).replace('"activity_arn"', json.dumps(ACTIVITY)))
    try:
        return validate(load_document(definition), state_machine_type=request.get("type") or "STANDARD")
    except DefinitionError as exc:
        return list(exc.diagnostics)


@pytest.mark.skipif(not CASES.is_dir(), reason="conformance corpus not found")
@pytest.mark.parametrize("case", _rejected_cases() if CASES.is_dir() else [])
def test_recorded_rejection(case: dict[str, Any]) -> None:
    expected = case["expected"]
    actual = _actual(case)
    if "diagnostics" in expected:
        want = [(d["code"], d["message"], d.get("location", "")) for d in expected["diagnostics"]]
        assert [(d.code, d.message, d.location) for d in actual] == want
        return
    message = expected.get("message") or expected["exception_value"]
    message = re.sub(
        r"^An error occurred \(InvalidDefinition\) when calling the \w+ operation: ", "", message
    )
    localstack = re.match(r"Error=ValueError Args=(\[.*\]) in definition", message, re.DOTALL)
    if localstack:
        # Recorded in LocalStack's own wording: the message is the Python error's argument.
        assert [d.message for d in actual] == ast.literal_eval(localstack.group(1))
        return
    assert invalid_definition_message(actual).replace("arn:aws:", "arn:<partition>:") == message


# -- conformance: definitions AWS accepted ------------------------------------------------------------


def _accepted_cases() -> list[Any]:
    cases = []
    for path in sorted(CASES.glob("executions/*/*.json")):
        case = json.loads(path.read_text())
        if case["expected"].get("status") is not None:  # no status: AWS never ran it
            cases.append((path.stem, case["definition"], case.get("state_machine_type") or "STANDARD"))
    return cases


@pytest.mark.skipif(not CASES.is_dir(), reason="conformance corpus not found")
def test_no_false_alarm_on_accepted_definitions() -> None:
    alarms = {}
    for name, definition, machine_type in _accepted_cases():
        definition = json.loads(json.dumps(definition).replace('"activity_arn"', json.dumps(ACTIVITY)))
        found = [
            str(d) for d in validate(definition, state_machine_type=machine_type) if d.severity == "ERROR"
        ]
        if found:
            alarms[name] = found
    assert alarms == {}
