"""Nested workflows: ``arn:aws:states:::states:startExecution`` and its patterns.

- request-response: starts the child and returns ``{ExecutionArn, StartDate,
  SdkHttpMetadata, SdkResponseMetadata}`` as Step Functions does;
- ``.sync``: records ``TaskSubmitted`` with that response, waits for the child and
  returns its DescribeExecution in PascalCase with ``Input`` and ``Output`` as JSON
  text; ``.sync:2`` returns them parsed. A child that fails, times out or is aborted
  fails the Task with ``States.TaskFailed`` and a cause holding the child's
  description (with its ``Error`` and ``Cause``). The Task's own token
  (``$$.Task.Token``) may also end it: SendTaskSuccess or SendTaskFailure with that
  token answers the Task before the child ends, as on AWS;
- ``.waitForTaskToken``: starts the child, then waits for the token.

Stopping the parent (StopExecution, a Task timeout, the execution's own timeout)
stops a child it waits for with ``.sync``. The child's name is ``Name``, or a UUID
(derived from the Task's token for ``.sync`` and ``.waitForTaskToken``, so that a Task run
again after a crash finds the child it had started, else fresh); ``Input`` is passed as JSON text (a string is taken as JSON text already;
absent or null is ``{}``), so an ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID``
field reaches the child unchanged. Errors of StartExecution come back as
``StepFunctions.<Code>Exception`` with the SDK's cause.

Nested executions need a :class:`legato.Engine` (the child machine lives in its
store): under ``legato.run`` the Task fails with ``States.Runtime`` saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from legato import _json, arns
from legato.errors import ApiError, StatesError
from legato.integrations.registry import TaskCall, integration
from legato.runtime.callbacks import TaskFailure

if TYPE_CHECKING:
    from legato.runtime.services import Services

_CHILD_NAMES = uuid.UUID("6c1e8a52-37d4-4f0e-9b8e-2f4f1c7d9a10")
"""The namespace of the names derived for children started without a ``Name``."""

__all__ = ["describe_shape", "engine_of", "execution_input", "start_execution"]

_BACKGROUND: set[asyncio.Task[Any]] = set()


def engine_of(call: TaskCall) -> Any:
    """The Engine behind a Task, or a States.Runtime failure saying one is needed."""
    engine = call.services.engine
    if engine is None:
        raise StatesError(
            "States.Runtime",
            f"The resource '{call.resource}' starts or calls another execution, which needs a "
            "legato.Engine holding the state machine (legato.run runs a single definition): "
            "create the machines on an Engine or `legato serve` and start the execution there.",
        )
    return engine


def execution_input(value: Any) -> str:
    """StartExecution's ``input`` text for a Task's ``Input`` parameter."""
    if value is None:
        return "{}"
    if isinstance(value, str):
        return value
    return _json.dumps(value)


def _optimised_error(services: Services, exc: ApiError) -> StatesError:
    suffix = "" if exc.type.endswith("Exception") else "Exception"
    cause = (
        f"{exc.message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {exc.type}; "
        f"Request ID: {services.ids.uuid()}; Proxy: null)"
    )
    return StatesError(f"StepFunctions.{exc.type}{suffix}", cause)


def _request(call: TaskCall) -> dict[str, Any]:
    params = call.parameters
    if not isinstance(params, dict) or not isinstance(params.get("StateMachineArn"), str):
        raise StatesError(
            "States.Runtime",
            "The Parameters for states:startExecution must be an object with a string StateMachineArn.",
        )
    request: dict[str, Any] = {
        "stateMachineArn": params["StateMachineArn"],
        "input": execution_input(params.get("Input")),
    }
    if params.get("Name") is not None:
        request["name"] = params["Name"]
    if params.get("TraceHeader") is not None:
        request["traceHeader"] = params["TraceHeader"]
    return request


def _millis(seconds: float) -> int:
    return round(seconds * 1000)


def _started(services: Services, response: dict[str, Any]) -> dict[str, Any]:
    """StartExecution's response as the optimised integration returns it."""
    request_id = services.ids.uuid()
    start = float(response["startDate"])
    # The body the SDK received: {"executionArn":"...","startDate":1.7E9}
    body = json.dumps(
        {"executionArn": response["executionArn"], "startDate": round(start, 3)}, separators=(",", ":")
    )
    length = str(len(body.encode()))
    date = formatdate(services.clock.time(), usegmt=True)
    return {
        "ExecutionArn": response["executionArn"],
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "connection": ["keep-alive"],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": ["application/x-amz-json-1.0"],
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/x-amz-json-1.0",
                "Date": date,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StartDate": _millis(start),
    }


def describe_shape(described: dict[str, Any], *, parsed: bool, output: Any = None) -> dict[str, Any]:
    """A DescribeExecution response as ``.sync`` (JSON text) or ``.sync:2`` (parsed) returns it.
    ``output``, when not ``None``, is the execution's output already as a value."""

    def payload(text: str) -> Any:
        if not parsed:
            return text
        try:
            return _json.loads(text)
        except ValueError:
            return text

    out: dict[str, Any] = {}
    if "cause" in described:
        out["Cause"] = described["cause"]
    if "error" in described:
        out["Error"] = described["error"]
    out["ExecutionArn"] = described["executionArn"]
    out["Input"] = payload(described.get("input", "{}"))
    out["InputDetails"] = {"Included": True}
    out["Name"] = described["name"]
    if "output" in described:
        out["Output"] = output if parsed and output is not None else payload(described["output"])
        out["OutputDetails"] = {"Included": True}
    for key in ("redriveCount", "redriveStatus", "redriveStatusReason"):
        if key in described:
            out[key[:1].upper() + key[1:]] = described[key]
    out["StartDate"] = _millis(float(described["startDate"]))
    out["StateMachineArn"] = described["stateMachineArn"]
    out["Status"] = described["status"]
    if described.get("stopDate") is not None:
        out["StopDate"] = _millis(float(described["stopDate"]))
    return out


def _stop_later(engine: Any, arn: str) -> None:
    """Stops a child whose parent stopped waiting for it (the parent is being cancelled)."""

    async def stop() -> None:
        with contextlib.suppress(Exception):
            await engine.stop_execution({"executionArn": arn})

    task = asyncio.get_running_loop().create_task(stop())
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


async def _wait_child(call: TaskCall, engine: Any, arn: str) -> Any:
    """Waits for the child, or for an answer to the Task's token, whichever comes first."""
    services = call.services
    tokens = services.callbacks
    waiting = tokens.open(call.token, call.execution_arn, services.clock) if call.token else None
    child = asyncio.ensure_future(engine.wait_for_output(arn))
    try:
        pending: set[asyncio.Future[Any]] = {child}
        if waiting is not None:
            pending.add(waiting.answer)
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        child.cancel()
        _stop_later(engine, arn)
        raise
    finally:
        if waiting is not None:
            tokens.close(waiting.token)
    if waiting is not None and waiting.answer.done():
        child.cancel()
        answer = waiting.answer.result()
        if answer.succeeded:
            return _json.loads(answer.output if answer.output is not None else "null")
        raise TaskFailure(answer.error, answer.cause)
    described, output = child.result()
    shape = describe_shape(described, parsed=call.pattern == "sync:2", output=output)
    if described["status"] == "SUCCEEDED":
        return shape
    shape.pop("Output", None)
    shape.pop("OutputDetails", None)
    raise StatesError("States.TaskFailed", _json.dumps(shape))


@integration("states", "startExecution")
async def start_execution(call: TaskCall) -> Any:
    """``states:startExecution`` in all three patterns (see the module's docstring)."""
    engine = engine_of(call)
    resumed = call.resumed
    if isinstance(resumed, dict) and isinstance(resumed.get("ExecutionArn"), str):
        # The engine restarted while this Task waited: wait for the child it started then.
        with contextlib.suppress(ApiError):
            return await _wait_child(call, engine, resumed["ExecutionArn"])
    request = _request(call)
    derived = "name" not in request and call.token is not None
    if derived:
        # Named after the Task's token (made from the Scheduled event's id): if the engine
        # dies after starting the child but before recording TaskSubmitted, the Task that
        # runs again finds the same child instead of starting a second one.
        request["name"] = str(uuid.uuid5(_CHILD_NAMES, call.token or ""))
    try:
        # The engine may wait for its store's thread: that is work, not idle time.
        with call.services.clock.busy():
            response = await engine.start_execution(request)
    except ApiError as exc:
        if not (derived and exc.type == "ExecutionAlreadyExists"):
            raise _optimised_error(call.services, exc) from None
        # That child ran to its end before the restart: this Task goes on with it.
        arn = arns.execution_arn(request["stateMachineArn"], request["name"])
        try:
            response = await engine.describe_execution({"executionArn": arn})
        except ApiError:
            raise _optimised_error(call.services, exc) from None
    started = _started(call.services, response)
    if call.pattern not in ("sync", "sync:2"):
        return started
    if call.submitted is not None:
        call.submitted(started)
    return await _wait_child(call, engine, response["executionArn"])
