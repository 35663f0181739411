"""``arn:aws:states:::aws-sdk:sfn:ACTION``: the Step Functions API from a workflow.

The embedded provider of the ``sfn`` service calls the engine running the
workflow: ``startExecution``, ``startSyncExecution``, ``describeExecution``,
``stopExecution``, ``sendTaskSuccess``, ``sendTaskFailure`` and
``sendTaskHeartbeat``. Parameters are the API's members in PascalCase; a JSON value
given for a string member (``Input``, ``Output``) is sent as its JSON text, as Step
Functions does. Results are the API's output in PascalCase with timestamps as
ISO-8601 text. API errors come back as ``Sfn.<Code>Exception`` with the SDK's cause,
for example ``Sfn.InvalidTokenException`` / ``Invalid Token: 'Invalid token'
(Service: Sfn, Status Code: 400, Request ID: ...) (SDK Attempt Count: 1)``.

Under ``legato.run`` (no engine) the ``sendTask*`` actions answer the tokens of
that run; the others fail with ``States.Runtime`` (they need an Engine).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from legato.errors import ApiError, StatesError
from legato.integrations.aws_sdk import embedded, sdk_error, sdk_timestamp
from legato.integrations.registry import TaskCall
from legato.integrations.states import engine_of, execution_input
from legato.runtime.callbacks import INVALID_TOKEN

__all__ = ["sfn_action"]

_TIMESTAMPS = frozenset(("startDate", "stopDate", "redriveDate"))
_ACTIONS = {
    "startExecution": "start_execution",
    "startSyncExecution": "start_sync_execution",
    "describeExecution": "describe_execution",
    "stopExecution": "stop_execution",
    "sendTaskSuccess": "send_task_success",
    "sendTaskFailure": "send_task_failure",
    "sendTaskHeartbeat": "send_task_heartbeat",
}
_JSON_MEMBERS = frozenset(("input", "output"))


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def _pascal(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    if key in _TIMESTAMPS and isinstance(value, int | float):
        return sdk_timestamp(float(value))
    return value


def _api_request(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise StatesError("States.Runtime", "The Parameters of an aws-sdk:sfn Task must be an object.")
    request: dict[str, Any] = {}
    for key, value in params.items():
        member = _camel(key)
        if value is None:
            continue  # the SDK leaves a null member out
        if member in _JSON_MEMBERS and not isinstance(value, str):
            value = execution_input(value)
        request[member] = value
    return request


def _error(call: TaskCall, exc: ApiError) -> StatesError:
    err = sdk_error("sfn", exc.type, exc.message, 400, request_id=call.services.ids.uuid())
    return StatesError(err.name, f"{err.cause} (SDK Attempt Count: 1)")


def _answer_locally(call: TaskCall, action: str, request: dict[str, Any]) -> None:
    """SendTask* without an engine: the tokens of this ``legato.run``."""
    from legato._apirequest import need_str

    tokens = call.services.callbacks
    token = need_str(request, "taskToken")
    if action == "sendTaskSuccess":
        output = request.get("output")
        tokens.succeed(token, output if isinstance(output, str) else "null")
    elif action == "sendTaskFailure":
        tokens.fail(token, request.get("error"), request.get("cause"))
    else:
        tokens.heartbeat(token)


async def sfn_action(call: TaskCall) -> Any:
    """Runs one ``aws-sdk:sfn`` action against the engine running the workflow."""
    request = _api_request(call.parameters)
    action = call.action
    try:
        if call.services.engine is None and action.startswith("sendTask"):
            _answer_locally(call, action, request)
            return {}
        engine = engine_of(call)
        if action.startswith("sendTask"):
            token = request.get("taskToken")
            if isinstance(token, str) and call.services.callbacks.parse(token) is None:
                # AWS checks the token before the output.
                raise INVALID_TOKEN
        method: Callable[..., Any] = getattr(engine, _ACTIONS[action])
        with call.services.clock.busy():
            response = await method(request)
    except ApiError as exc:
        raise _error(call, exc) from None
    return _pascal(response)


embedded("sfn", *_ACTIONS)(sfn_action)
