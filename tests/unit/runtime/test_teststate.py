"""TestState against the AWS-recorded conformance cases, plus a few direct checks.

The recorded cases live in ``../shared/conformance/cases``; each response is
normalised with the conformance runner's own functions before comparing, exactly
as ``run.py --kind test_state`` does against a server.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import sys
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from legato.errors import ApiError
from legato.runtime.clock import SequentialIds, VirtualClock
from legato.runtime.services import Services
from legato.runtime.teststate import test_state as run_test_state

T = TypeVar("T")

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
CONFORMANCE = SHARED / "conformance"
CASES = CONFORMANCE / "cases"
ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/conformance"

# Category-a cases that do not pass, with the reason.
KNOWN_FAILURES: dict[str, str] = {
    "test_state/test_test_state_scenarios.TestStateCaseScenarios.test_state_with_variables[base_expressions]"
    "#test_case_response": "recorded without a roleArn (RoleArn null); the runner always sends one",
    "test_state/test_field_validation_mode.TestFieldValidationMode.test_strict_mode_aws_sdk_lambda_get_function_task"
    "[integer_more_than_maximum_allowed]#validation-exception": "botocore's Lambda model now allows MemorySize up to 32768",
    "test_state/test_field_validation_mode_present.TestFieldValidationModePresent."
    "test_present_mode_aws_sdk_lambda_get_function_task[integer_more_than_maximum_allowed]#validation-exception": (
        "botocore's Lambda model now allows MemorySize up to 32768"
    ),
}


def _runner() -> Any:
    if str(CONFORMANCE) not in sys.path:
        sys.path.insert(0, str(CONFORMANCE))
    return importlib.import_module("run")  # the conformance runner, a plain module


def _cases(kind: str) -> list[Any]:
    if not CASES.is_dir():
        return []
    out = []
    index = json.loads((CASES / "index.json").read_text())["cases"]
    for row in index:
        if row["category"] != "a":
            continue
        if kind == "test_state" and row["kind"] == "test_state":
            out.append(pytest.param(row["file"], id=row["id"]))
        elif (
            kind == "validation" and row["kind"] == "validation_error" and row.get("api_call") == "test_state"
        ):
            out.append(pytest.param(row["file"], id=row["id"]))
    return out


def run(coro: Awaitable[T]) -> T:
    async def go() -> T:
        return await coro

    return asyncio.run(go())


def services() -> Services:
    return Services(clock=VirtualClock(), ids=SequentialIds(), account=ACCOUNT, region="us-east-1")


def _params(case: dict[str, Any]) -> dict[str, Any]:
    """The request as the runner sends it (JSON documents as text, stand-in ids made random)."""
    params = _runner().build_api_params(case["request"], "test_state")
    text = re.sub(r"[a-z]*u\d{4}x-0000-0000-0000-\d{12}", lambda m: str(uuid.uuid4()), json.dumps(params))
    return dict(json.loads(text))


def _xfail(case_id: str) -> None:
    if case_id in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[case_id])


@pytest.mark.parametrize("path", _cases("test_state"))
def test_recorded_test_state_case(path: str) -> None:
    cr = _runner()
    case = json.loads((CASES / path).read_text())
    _xfail(case["id"])
    exp = case["expected"]
    params = _params(case)
    params.setdefault("roleArn", ROLE_ARN)
    resp = run(run_test_state(params, services()))
    notes: list[str] = []
    transformers = cr.build_transformers(case["normalisation"].get("test_specific_transformers"), notes)
    norm = cr.normalise(
        resp,
        transformers,
        name_pairs=[],
        accounts={ACCOUNT},
        regions={"us-east-1"},
        sfn_api=cr.sfn_api_jsonpaths(exp),
    )
    ok, diff, hok, hdiff = cr.compare_test_state(exp, norm)
    assert ok, diff
    if hok is not None:
        assert hok, hdiff


def _error_doc(exc: ApiError) -> dict[str, Any]:
    return {
        "Error": {"Code": exc.type, "Message": exc.message},
        "message": exc.message,
        "ResponseMetadata": {"HTTPStatusCode": exc.status},
        "exception_typename": exc.type,
        "exception_value": f"An error occurred ({exc.type}) when calling the TestState operation: {exc.message}",
    }


def _client_side_check(params: dict[str, Any]) -> dict[str, Any] | None:
    """boto3 validates parameters before sending; do the same when botocore is there."""
    try:
        import botocore.session  # type: ignore[import-untyped]
        from botocore.exceptions import ParamValidationError  # type: ignore[import-untyped]
        from botocore.validate import validate_parameters  # type: ignore[import-untyped]
    except ImportError:
        return None
    shape = (
        botocore.session.get_session()
        .get_service_model("stepfunctions")
        .operation_model("TestState")
        .input_shape
    )
    try:
        validate_parameters(params, shape)
    except ParamValidationError as exc:
        return {"exception_typename": "ParamValidationError", "exception_value": str(exc)}
    return None


@pytest.mark.parametrize("path", _cases("validation"))
def test_recorded_validation_case(path: str) -> None:
    cr = _runner()
    case = json.loads((CASES / path).read_text())
    _xfail(case["id"])
    exp = case["expected"]
    params = _params(case)
    actual = _client_side_check(params)
    if actual is None:
        try:
            resp = run(run_test_state(params, services()))
        except ApiError as exc:
            actual = _error_doc(exc)
        else:
            actual = {"response": resp}
    notes: list[str] = []
    transformers = cr.build_transformers(case["normalisation"].get("test_specific_transformers"), notes)
    norm = cr.normalise(
        actual,
        transformers,
        name_pairs=[],
        accounts={ACCOUNT},
        regions={"us-east-1"},
        sfn_api=cr.sfn_api_jsonpaths(exp),
    )
    ok, diff = cr.compare_validation(exp, norm)
    assert ok, diff


# --------------------------------------------------------------------- direct checks


def _call(**request: Any) -> dict[str, Any]:
    return run(run_test_state(request, services()))


def test_pass_state_info_level_has_no_inspection_data() -> None:
    resp = _call(definition=json.dumps({"Type": "Pass", "Result": 1, "Next": "B"}), input="{}")
    assert resp == {"status": "SUCCEEDED", "output": "1", "nextState": "B"}


def test_unmocked_task_calls_registered_function() -> None:
    svc = services()
    svc.functions.register("double", lambda event, context: event["n"] * 2)
    definition = {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:double",
        "ResultPath": "$.doubled",
        "End": True,
    }
    request = {"definition": json.dumps(definition), "input": '{"n": 4}', "roleArn": ROLE_ARN}
    resp = run(run_test_state(request, svc))
    assert resp["status"] == "SUCCEEDED"
    assert json.loads(resp["output"]) == {"n": 4, "doubled": 8}


def test_unmocked_task_needs_a_role() -> None:
    definition = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": True}
    with pytest.raises(ApiError) as err:
        run(run_test_state({"definition": json.dumps(definition)}, services()))
    assert err.value.type == "ValidationException"
    assert err.value.message == "RoleArn must be specified when testing a Task state"


def test_retry_reports_backoff_and_exhausted_retry_fails() -> None:
    definition = json.dumps(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f"},
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 3, "BackoffRate": 2, "MaxAttempts": 2}],
            "End": True,
        }
    )
    mock = {"errorOutput": {"error": "Boom", "cause": "it broke"}}
    resp = _call(
        definition=definition, mock=mock, inspectionLevel="DEBUG", stateConfiguration={"retrierRetryCount": 1}
    )
    assert resp["status"] == "RETRIABLE"
    assert resp["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 6}
    resp = _call(definition=definition, mock=mock, stateConfiguration={"retrierRetryCount": 2})
    assert (resp["status"], resp["error"], resp["cause"]) == ("FAILED", "Boom", "it broke")


def test_jsonpath_catch_places_error_output() -> None:
    definition = json.dumps(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handler"}],
            "End": True,
        }
    )
    resp = _call(definition=definition, input='{"a": 1}', mock={"errorOutput": {"error": "E", "cause": "C"}})
    assert resp["status"] == "CAUGHT_ERROR"
    assert resp["nextState"] == "Handler"
    assert json.loads(resp["output"]) == {"a": 1, "err": {"Error": "E", "Cause": "C"}}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {
                "definition": json.dumps(
                    {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "X"}]}
                ),
                "mock": {"result": "{}"},
            },
            "State type 'Choice' is not supported when a mock is specified",
        ),
        (
            {
                "definition": '{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}',
                "mock": {"result": "nope"},
            },
            "Mocked result must be valid JSON",
        ),
        (
            {
                "definition": '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}',
                "stateName": "B",
            },
            "State not found in definition",
        ),
    ],
)
def test_request_errors(request_: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as info:
        run(run_test_state(request_, services()))
    assert info.value.message == message
