"""TestState's request checks: the mock, its field validation, and a supplied context object.

A mocked Task result is checked against the output shape of the service API it
stands for, as Step Functions does (``fieldValidationMode``):

- ``STRICT`` (the default): every field that is present has the API's type, and
  the API's required fields are present;
- ``PRESENT``: only the fields that are present are checked;
- ``NONE``: no check.

Fields that the API does not know are accepted in every mode. The API shapes come
from botocore's service models when botocore is installed (it is a development
dependency of Legato); without it the check is skipped.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from legato.errors import ApiError

__all__ = ["Mock", "check_context", "parse_mock", "validate_mock_result"]

_MODES = ("STRICT", "PRESENT", "NONE")

# Names in Task resources that differ from botocore's service names.
_SERVICE_NAMES = {"states": "stepfunctions", "sfn": "stepfunctions"}

# Members whose API type is not what Step Functions hands over (Lambda's Payload
# is the function's JSON result, not a blob).
_UNCHECKED_MEMBERS = {("lambda", "Invoke", "Payload")}

_CONTEXT_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "Execution": {
        "Id": str,
        "Input": object,
        "Name": str,
        "RoleArn": str,
        "StartTime": str,
        "RedriveCount": int,
        "RedriveTime": str,
    },
    "State": {"EnteredTime": str, "Name": str, "RetryCount": int},
    "StateMachine": {"Id": str, "Name": str},
    "Task": {"Token": str},
}


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


@dataclass(frozen=True, slots=True)
class Mock:
    """A parsed ``mock`` field: a result (parsed JSON) or an error, and the validation mode."""

    has_result: bool
    result: Any = None
    result_text: str | None = None
    error: str | None = None
    cause: str | None = None
    field_validation_mode: str = "STRICT"


def parse_mock(raw: Any) -> Mock | None:
    """Parses the request's ``mock`` field; ``None`` when there is no mock."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiError("SerializationException", "Field 'mock' must be an object")
    has_result = raw.get("result") is not None
    has_error = raw.get("errorOutput") is not None
    if has_result and has_error:
        raise _validation("A test mock should have only one of the following fields: [result, errorOutput].")
    mode = raw.get("fieldValidationMode") or "STRICT"
    if mode not in _MODES:
        raise _validation(
            f"1 validation error detected: Value '{mode}' at 'mock.fieldValidationMode' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(_MODES)}]"
        )
    if has_result:
        text = raw["result"]
        if not isinstance(text, str):
            raise ApiError("SerializationException", "Field 'result' must be a string")
        try:
            value = json.loads(text)
        except ValueError:
            raise _validation("Mocked result must be valid JSON") from None
        return Mock(True, value, text, field_validation_mode=mode)
    if has_error:
        err = raw["errorOutput"]
        if not isinstance(err, dict):
            raise ApiError("SerializationException", "Field 'errorOutput' must be an object")
        error, cause = err.get("error"), err.get("cause")
        return Mock(
            False,
            error=error if isinstance(error, str) else None,
            cause=cause if isinstance(cause, str) else None,
        )
    raise _validation("A test mock should have one of the following fields: [result, errorOutput].")


def check_context(context: Any, *, token_allowed: bool) -> None:
    """Checks a context object supplied with the request, in AWS's wording."""
    prefix = "Invalid Context object provided: "
    if not isinstance(context, dict):
        raise _validation(prefix + "Context object must be a JSON object")
    for key, value in context.items():
        if key == "Map":
            raise _validation(prefix + "'Map' field is not supported when mocking a Context object")
        fields = _CONTEXT_FIELDS.get(key)
        if fields is None:
            raise _validation(prefix + f"Field '{key}' is not allowed")
        if key == "Task" and not token_allowed:
            raise _validation(
                prefix + "Context object contains 'Task' when state is not a Task state with a '.sync' or "
                "'.waitForTaskToken' service integration pattern"
            )
        if not isinstance(value, dict):
            raise _validation(prefix + f"{key} must be an object")
        for name, item in value.items():
            expected = fields.get(name)
            if expected is None:
                raise _validation(prefix + f"Field '{name}' is not allowed")
            if expected is object:
                continue
            if expected is int and (isinstance(item, bool) or not isinstance(item, int)):
                raise _validation(prefix + f"{key}.{name} must be an integer")
            if expected is str and not isinstance(item, str):
                raise _validation(prefix + f"{key}.{name} must be a string")


# --------------------------------------------------------------------- API shapes


def _operation(resource: str) -> tuple[str, str] | None:
    """(botocore service, operation) for a Task resource whose result has an API shape."""
    parts = resource.split(":")
    if len(parts) < 7 or parts[2] != "states" or parts[3] or parts[4]:
        return None
    if parts[5] == "aws-sdk":
        if len(parts) < 8:
            return None
        service, action = parts[6], parts[7]
    else:
        service, action = parts[5], ":".join(parts[6:])
    action, _, pattern = action.partition(".")
    if pattern or not action:
        # .sync and .waitForTaskToken results are not the API call's response.
        return None
    return _SERVICE_NAMES.get(service, service), action[:1].upper() + action[1:]


@functools.lru_cache(maxsize=128)
def _output_shape(service: str, operation: str) -> Any:
    session = _session()
    if session is None:
        return None
    try:
        return session.get_service_model(service).operation_model(operation).output_shape
    except Exception:  # botocore's UnknownServiceError, OperationNotFoundError ...: nothing to check against
        return None


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    try:
        import botocore.session
    except ImportError:  # botocore is optional: without it, mocks are not validated
        return None
    return botocore.session.get_session()


def validate_mock_result(resource: str, result: Any, mode: str) -> None:
    """Checks a mocked Task result against the service API's output shape.

    Raises ``ValidationException`` (``Mock result schema validation error: ...``).
    """
    if mode == "NONE":
        return
    op = _operation(resource)
    if op is None:
        return
    shape = _output_shape(*op)
    if shape is None:
        return
    problem = _check(shape, result, "", mode == "STRICT", op)
    if problem is not None:
        raise _validation(f"Mock result schema validation error: {problem}")


def _member_name(name: str) -> str:
    return name[:1].upper() + name[1:]


def _check(shape: Any, value: Any, name: str, strict: bool, op: tuple[str, str]) -> str | None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            return f"Field '{name}' must be an object" if name else "Mocked result must be a JSON object"
        members = {_member_name(k): v for k, v in shape.members.items()}
        if strict:
            for required in shape.required_members:
                if _member_name(required) not in value:
                    return f"Required field '{_member_name(required)}' is missing"
        for key, item in value.items():
            member = members.get(key)
            if member is None or (not name and (op[0], op[1], key) in _UNCHECKED_MEMBERS):
                continue
            problem = _check(member, item, key, strict, op)
            if problem is not None:
                return problem
        return None
    if kind == "list":
        if not isinstance(value, list):
            return f"Field '{name}' must be an array"
        for item in value:
            problem = _check(shape.member, item, name, strict, op)
            if problem is not None:
                return problem
        return _length(value, meta, name)
    if kind == "map":
        if not isinstance(value, dict):
            return f"Field '{name}' must be an object"
        for item in value.values():
            problem = _check(shape.value, item, name, strict, op)
            if problem is not None:
                return problem
        return None
    if kind in ("string", "blob", "timestamp"):
        if not isinstance(value, str):
            return f"Field '{name}' must be a string"
        enum = meta.get("enum")
        if kind == "string" and enum and value not in enum:
            return f"Field '{name}' is not an expected value"
        return _length(value, meta, name)
    if kind == "boolean":
        return None if isinstance(value, bool) else f"Field '{name}' must be a boolean"
    if kind in ("integer", "long", "float", "double", "bigdecimal", "biginteger"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"Field '{name}' must be a number"
        if "min" in meta and value < meta["min"]:
            return f"Field '{name}' is less than the minimum value"
        if "max" in meta and value > meta["max"]:
            return f"Field '{name}' exceeds the maximum value"
        return None
    return None


def _length(value: Any, meta: dict[str, Any], name: str) -> str | None:
    if "min" in meta and len(value) < meta["min"]:
        return f"Field '{name}' is smaller than the minimum length"
    if "max" in meta and len(value) > meta["max"]:
        return f"Field '{name}' is larger than the maximum length"
    return None
