"""Random and malformed requests against a live server: never a 500, and it keeps serving.

Hypothesis draws operations (known and unknown), bodies (objects with the right
fields holding wrong types, huge strings and deep nesting; other JSON; non-JSON;
invalid UTF-8) and ARNs and names. Bounded and derandomised for CI.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from _live import live_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legato.engine import OPERATIONS as ENGINE_OPERATIONS

ACCOUNT = "123456789012"
REGION = "us-east-1"
SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:fuzz-target"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fuzz"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
INPUT_LIMIT = 262_144

OPERATIONS = [
    "CreateStateMachine",
    "DescribeStateMachine",
    "DescribeStateMachineForExecution",
    "ListStateMachines",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "StartExecution",
    "StartSyncExecution",
    "StopExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "ValidateStateMachineDefinition",
    "TestState",
    "CreateActivity",
    "DescribeActivity",
    "ListActivities",
    "DeleteActivity",
    "GetActivityTask",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "DeleteStateMachineAlias",
    "ListStateMachineAliases",
    "RedriveExecution",
    "DescribeMapRun",
    "ListMapRuns",
    "UpdateMapRun",
]
FIELDS = [
    "name",
    "definition",
    "roleArn",
    "type",
    "input",
    "stateMachineArn",
    "executionArn",
    "activityArn",
    "resourceArn",
    "mapRunArn",
    "stateMachineAliasArn",
    "stateMachineVersionArn",
    "maxResults",
    "nextToken",
    "statusFilter",
    "reverseOrder",
    "includeExecutionData",
    "error",
    "cause",
    "tags",
    "tagKeys",
    "loggingConfiguration",
    "tracingConfiguration",
    "encryptionConfiguration",
    "publish",
    "versionDescription",
    "description",
    "routingConfiguration",
    "taskToken",
    "output",
    "workerName",
    "traceHeader",
    "severity",
    "inspectionLevel",
    "revealSecrets",
    "variables",
    "stateName",
    "mock",
    "context",
    "revisionId",
    "clientToken",
    "maxConcurrency",
    "toleratedFailureCount",
    "toleratedFailurePercentage",
    "redriveFilter",
]

_big = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["a", "é", "\U0001f600", "\x00", "'", "\\", '"', ":", "/"]),
    st.sampled_from(
        [0, 1, 80, 81, 256, 257, 1024, 1025, 2048, INPUT_LIMIT - 2, INPUT_LIMIT, INPUT_LIMIT + 1]
    ),
)
_arn_parts = st.sampled_from(
    [
        "arn",
        "aws",
        "aws-cn",
        "states",
        "lambda",
        "iam",
        REGION,
        "",
        ACCOUNT,
        "stateMachine",
        "execution",
        "express",
        "activity",
        "mapRun",
        "stateMachineVersion",
        "fuzz-target",
        "1",
        "0",
        "-1",
        "x" * 90,
        "a/b",
        "$LATEST",
        "é",
    ]
)
_arns = st.one_of(
    st.just(SM),
    st.builds(lambda rest: f"{SM}:{rest}", st.text(max_size=12)),
    st.builds(":".join, st.lists(_arn_parts, max_size=9)),
    st.text(max_size=40),
)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | _arns
    | _big,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_definitions = st.one_of(
    st.just(PASS),
    st.just(WAIT),
    st.builds(json.dumps, _json_values),
    st.builds(
        lambda state: json.dumps({"StartAt": "S", "States": {"S": state}}),
        st.dictionaries(
            st.sampled_from(
                [
                    "Type",
                    "End",
                    "Next",
                    "Parameters",
                    "Resource",
                    "Seconds",
                    "Arguments",
                    "QueryLanguage",
                    "Output",
                    "Assign",
                    "Choices",
                    "Default",
                    "Branches",
                    "ItemProcessor",
                    "Result",
                ]
            ),
            _json_values,
            max_size=5,
        ),
    ),
)


_DEPTHS = st.sampled_from([50, 200, 254, 256, 500, 900, 990, 1_000, 1_024, 1_100, 3_000, 50_000])


def _nested(depth: int, kind: int) -> str:
    if kind == 0:
        return "[" * depth + "]" * depth
    if kind == 1:
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth  # unterminated


_deep_text = st.builds(_nested, _DEPTHS, st.integers(0, 2))
_deep_definitions = st.builds(
    lambda depth, field: json.dumps(
        {"StartAt": "S", "States": {"S": {"Type": "Pass", "End": True, field: "@@"}}}
    ).replace('"@@"', _nested(depth, 1)),
    _DEPTHS,
    st.sampled_from(["Result", "Parameters", "ResultSelector", "Output", "Assign", "Arguments"]),
)


def _field_value(field: str) -> st.SearchStrategy[Any]:
    if field.endswith("Arn"):
        return st.one_of(_arns, _json_values)
    if field == "definition":
        return st.one_of(_definitions, _deep_definitions, _deep_text, _json_values)
    if field in ("input", "output", "variables", "context", "mock"):
        return st.one_of(st.builds(json.dumps, _json_values), _deep_text, _big, _json_values)
    return _json_values


_objects = st.lists(st.sampled_from(FIELDS), max_size=6, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({n: _field_value(n) for n in names})
)


EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:fuzz-target:running"
ACTIVITY = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:fuzz-activity"
_PAYLOAD_TEXT = st.sampled_from(
    [
        "$.a",
        "$$.Execution.Id",
        "$..a",
        "$.a[?(@.b > 1)]",
        "$[",
        "States.Format('{} {}', $.a)",
        "States.ArrayRange(1, 1000000000, 1)",
        "States.ArrayRange(1, 3, 0)",
        "States.StringToJson($.s)",
        "States.StringToJson('[[[[')",
        "States.JsonToString($)",
        "States.Hash($.a, 'MD5')",
        "States.MathRandom(1, 0)",
        "States.MathAdd(9223372036854775807, 1)",
        "States.Base64Decode('!!!')",
        "States.ArrayPartition($.a, 0)",
        "States.ArrayGetItem($.a, 99999999999)",
        "States.StringSplit($.a, '')",
        "States.JsonMerge($.a, $.b, true)",
        "States.UUID()",
        "States.Nope()",
        "{% $a %}",
        "{% $sum($states.input.a) %}",
        "{% $string($states.input) & $ %}",
        "{% ( %}",
        "{% $parse($states.input.s) %}",
    ]
)
_test_states = st.fixed_dictionaries(
    {"Type": st.sampled_from(["Pass", "Choice", "Wait", "Fail", "Succeed", "Task", "Map", "Parallel", "X"])},
    optional={
        "End": st.booleans(),
        "QueryLanguage": st.sampled_from(["JSONPath", "JSONata", "x"]),
        "Parameters": st.dictionaries(
            st.sampled_from(["x.$", "y", "z.$"]), _PAYLOAD_TEXT | _json_values, max_size=3
        ),
        "Arguments": _PAYLOAD_TEXT | _json_values,
        "Output": _PAYLOAD_TEXT | _json_values,
        "Assign": st.dictionaries(
            st.sampled_from(["v", "w.$", "1"]), _PAYLOAD_TEXT | _json_values, max_size=2
        ),
        "InputPath": _PAYLOAD_TEXT,
        "ResultPath": _PAYLOAD_TEXT,
        "OutputPath": _PAYLOAD_TEXT,
        "Result": _json_values,
        "Seconds": _json_values,
        "Resource": _arns,
        "Error": _PAYLOAD_TEXT,
        "Cause": _PAYLOAD_TEXT,
        "ItemsPath": _PAYLOAD_TEXT,
    },
).map(json.dumps)
_input_docs = st.sampled_from(
    ['{"a": [1, 2], "b": {"c": 1}, "s": "[1"}', "{}", "[]", '"x"', "1", "null", "{"]
)

# Valid requests to mutate one field of: these reach the engine's deeper checks.
_VALID: dict[str, dict[str, Any]] = {
    "CreateStateMachine": {"name": "fuzz-new", "definition": PASS, "roleArn": ROLE},
    "DescribeStateMachine": {"stateMachineArn": SM},
    "DescribeStateMachineForExecution": {"executionArn": EXECUTION},
    "ListStateMachines": {"maxResults": 1},
    "UpdateStateMachine": {"stateMachineArn": SM, "definition": WAIT},
    "StartExecution": {"stateMachineArn": SM, "input": "{}"},
    "StartSyncExecution": {"stateMachineArn": SM, "input": "{}"},
    "DescribeExecution": {"executionArn": EXECUTION},
    "ListExecutions": {"stateMachineArn": SM, "statusFilter": "RUNNING"},
    "GetExecutionHistory": {"executionArn": EXECUTION, "maxResults": 2},
    "ValidateStateMachineDefinition": {"definition": PASS, "type": "STANDARD"},
    "TestState": {"definition": '{"Type": "Pass", "End": true}', "roleArn": ROLE, "input": "{}"},
    "CreateActivity": {"name": "fuzz-activity"},
    "DescribeActivity": {"activityArn": ACTIVITY},
    "ListActivities": {},
    "TagResource": {"resourceArn": SM, "tags": [{"key": "k", "value": "v"}]},
    "UntagResource": {"resourceArn": SM, "tagKeys": ["k"]},
    "ListTagsForResource": {"resourceArn": SM},
}


def _mutated(op: str, field: str, value: Any, drop: bool) -> tuple[str, bytes]:
    request = dict(_VALID[op])
    if drop and request:
        request.pop(sorted(request)[len(field) % len(request)])
    else:
        request[field] = value
    return f"AWSStepFunctions.{op}", json.dumps(request).encode()


_near_valid = st.sampled_from(sorted(_VALID)).flatmap(
    lambda op: st.sampled_from([*sorted(_VALID[op]), *FIELDS[:8]]).flatmap(
        lambda field: st.builds(
            _mutated,
            st.just(op),
            st.just(field),
            st.one_of(
                _field_value(field),
                _test_states if field == "definition" and op == "TestState" else _field_value(field),
                _input_docs if field == "input" else _field_value(field),
            ),
            st.integers(0, 5).map(lambda n: n == 0),
        )
    )
)


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


_bodies = st.one_of(
    st.builds(lambda o: json.dumps(o).encode(), _objects),
    st.builds(
        lambda o, field, depth: (
            json.dumps(o)[:-1].encode() + (b", " if o else b"") + f'"{field}": {_nested(depth, 0)}}}'.encode()
        ),
        _objects,
        st.sampled_from(FIELDS),
        st.sampled_from([254, 256, 900, 1_000, 1_023, 1_024, 1_025]),
    ),
    st.builds(lambda o: json.dumps(o).encode(), _json_values),
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"   ",
            b"{",
            b"null",
            b'{"name": "\xff\xfe"}',
            b"\xff\xfe\x00{",
            b'{"a": 1, "a": 2}',
            b'{"maxResults": 1e999}',
            b'{"maxResults": NaN}',
            b'{"definition": "\\ud800"}',
            b'{"nextToken": "\\u0000"}',
            _deep(5_000),
            b'{"input": ' + json.dumps(_deep(200_000).decode()).encode() + b"}",
            b'{"a": ' * 3_000 + b"1" + b"}" * 3_000,
        ]
    ),
)
_unknown_targets = st.one_of(
    st.sampled_from(["", "AWSStepFunctions.", "AWSStepFunctions.Nope", "Other.ListStateMachines"]),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20).map(
        lambda t: f"AWSStepFunctions.{t}"
    ),
    st.none(),
)
_targets = st.integers(0, 9).flatmap(
    # Mostly operations the engine has: an unknown one stops at the first check.
    lambda n: (
        st.sampled_from(sorted(ENGINE_OPERATIONS)).map(lambda op: f"AWSStepFunctions.{op}")
        if n < 7
        else st.sampled_from(OPERATIONS).map(lambda op: f"AWSStepFunctions.{op}")
        if n < 8
        else _unknown_targets
    )
)


class Client:
    """One keep-alive HTTP connection to the server, reopened when the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def post(self, target: str | None, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        if target is not None:
            # http.client refuses header values it cannot encode; such requests are not HTTP.
            headers["X-Amz-Target"] = target.encode("utf-8").decode("latin-1")
        for attempt in range(2):
            try:
                self.conn.request("POST", "/", body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        status, body = self.post(f"AWSStepFunctions.{operation}", json.dumps(request).encode())
        assert status == 200, body
        result: dict[str, Any] = json.loads(body)
        return result


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Path]]:
    data_dir = tmp_path_factory.mktemp("legato-fuzz")
    with live_server(data_dir, "--clock", "virtual") as url:
        client = Client(url)
        # Things for random requests to find: a machine, a running execution, an activity.
        client.call("CreateStateMachine", name="fuzz-target", definition=WAIT, roleArn=ROLE)
        client.call("StartExecution", stateMachineArn=SM, name="running")
        client.call("CreateActivity", name="fuzz-activity")
        yield client, data_dir / "server.log"
        client.conn.close()


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(request=st.one_of(st.tuples(_targets, _bodies), _near_valid, _near_valid))
def test_no_request_gets_a_500(server: tuple[Client, Path], request: tuple[str | None, bytes]) -> None:
    client, _ = server
    target, body = request
    status, reply = client.post(target, body)
    assert status < 500, (target, body[:200], reply[:500])
    if status != 200:
        error = json.loads(reply)
        assert set(error) == {"__type", "message"} and error["__type"], reply[:500]


@pytest.mark.parametrize(
    "operation, request_",
    [
        ("StartExecution", {"stateMachineArn": SM, "input": json.dumps("x" * (INPUT_LIMIT - 2))}),
        ("StartExecution", {"stateMachineArn": SM, "input": json.dumps("x" * (INPUT_LIMIT - 1))}),
        ("StartExecution", {"stateMachineArn": SM, "input": json.dumps("é" * 200_000)}),
        ("CreateStateMachine", {"name": "big", "roleArn": ROLE, "definition": "x" * 2_000_000}),
        # These two were 500s: a RecursionError parsing, a lone surrogate that could not be encoded.
        ("ValidateStateMachineDefinition", {"definition": "[" * 100_000}),
        ("ValidateStateMachineDefinition", {"definition": "\ud800"}),
        ("TestState", {"definition": json.dumps({"Type": "Pass"}), "input": "x" * 300_000}),
        ("DescribeExecution", {"executionArn": SM.replace("stateMachine", "execution") + ":" + "n" * 5000}),
    ],
)
def test_oversized_inputs_are_refused_cleanly(
    server: tuple[Client, Path], operation: str, request_: dict[str, Any]
) -> None:
    client, _ = server
    status, reply = client.post(f"AWSStepFunctions.{operation}", json.dumps(request_).encode())
    assert status < 500, reply[:500]
    if status != 200:
        assert json.loads(reply)["__type"] in {
            "ValidationException",
            "InvalidExecutionInput",
            "InvalidDefinition",
            "InvalidArn",
            "ExecutionDoesNotExist",
            "SerializationException",
        }, reply[:500]


def test_a_body_over_the_limit_is_413_in_the_json_shape(server: tuple[Client, Path]) -> None:
    client, _ = server
    status, reply = client.post("AWSStepFunctions.StartExecution", b'{"input": "' + b"x" * 9_000_000 + b'"}')
    assert status == 413
    assert json.loads(reply)["__type"] == "RequestEntityTooLargeException"


def test_the_server_still_serves_and_logged_no_failure(server: tuple[Client, Path]) -> None:
    client, log = server
    arn = client.call("CreateStateMachine", name="after-fuzz", definition=PASS, roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = client.call("StartExecution", stateMachineArn=arn, input='{"ok": true}')["executionArn"]
    assert client.call("DescribeExecution", executionArn=execution)["executionArn"] == execution
    assert "internal failure" not in log.read_text()
