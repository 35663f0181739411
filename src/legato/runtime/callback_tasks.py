"""Activity Tasks and ``.waitForTaskToken`` Tasks: their flow, history events and replay.

An activity Task records ``ActivityScheduled``, then ``ActivityStarted`` when a
worker takes it (``workerName`` when the worker gave one), then
``ActivitySucceeded``, ``ActivityFailed`` or ``ActivityTimedOut``. A
``.waitForTaskToken`` Task records ``TaskScheduled`` and ``TaskStarted``, calls its
resource with the token in ``$$.Task.Token``, records ``TaskSubmitted`` with what
the resource returned, then ``TaskSucceeded``, ``TaskFailed`` or ``TaskTimedOut``
when the token is answered or runs out of time. TimeoutSeconds counts from the
Scheduled event; HeartbeatSeconds from the start (an activity's: from the moment a
worker takes it) and from each heartbeat since.

On resume, whatever was recorded is replayed: a resource whose ``TaskSubmitted``
was recorded is not called again, an activity task a worker had taken is not
offered again, and the Task waits again for the same (deterministic) token. See
:mod:`legato.runtime.callbacks` for tokens and for how waits use the clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.errors import EvaluationError, StatesError
from legato.runtime.callbacks import Answer, CallbackTimeout, TaskFailure, wait_for
from legato.runtime.clock import Clock
from legato.runtime.tasks import _TASK_EVENTS, _Events, _recorded_outcome

if TYPE_CHECKING:
    from legato.runtime.execution import Execution
    from legato.runtime.interpreter import Frame, Interpreter

__all__ = ["ACTIVITY_EVENTS", "is_activity_arn", "next_token", "run_activity", "run_callback"]

ACTIVITY_EVENTS = _Events(
    ("ActivityScheduled", "activityScheduledEventDetails"),
    ("ActivityStarted", "activityStartedEventDetails"),
    ("ActivitySucceeded", "activitySucceededEventDetails"),
    ("ActivityFailed", "activityFailedEventDetails"),
    ("ActivityTimedOut", "activityTimedOutEventDetails"),
)

_SCHEDULED = ("TaskScheduled", "ActivityScheduled")


def is_activity_arn(arn: str) -> bool:
    """True for ``arn:PARTITION:states:REGION:ACCOUNT:activity:NAME``."""
    parts = arn.split(":")
    return len(parts) == 7 and parts[0] == "arn" and parts[2] == "states" and parts[5] == "activity"


def _scope(x: Execution) -> str:
    """What a token is scoped to: the execution ARN.

    A Distributed Map child run shares its parent's ARN but numbers its own events
    from 1 and is never resumed, so its tokens are scoped to the run itself.
    """
    if x.history and x.history[0].get("type") == "ExecutionStarted":
        return x.info.execution_arn
    return f"{x.info.execution_arn}#{id(x):x}"


def next_token(interp: Interpreter, frame: Frame) -> str:
    """The token of the Task whose Scheduled event ``frame`` records next.

    The Scheduled event holds the Task's parameters, which may hold the token, so
    the token is made first, from the id that event is about to get: the next id
    of the history, or the recorded event's when the frame replays.
    """
    x = interp.x
    event_id = x.last_event_id + 1
    replay = x.replay
    if replay is not None:
        recorded = replay.peek(frame.key)
        if recorded is not None and recorded.get("type") in _SCHEDULED:
            event_id = int(recorded["id"])
    return interp.services.callbacks.token(_scope(x), event_id)


def _finish(x: Execution, frame: Frame, family: _Events, answer: Answer, tags: dict[str, Any]) -> Any:
    """Records the answer's event; returns the output or raises the failure."""
    if answer.succeeded:
        text = answer.output if answer.output is not None else "null"
        value = _json.loads(text)
        details: dict[str, Any] = {"output": text, "outputDetails": {"truncated": False}, **tags}
        frame.last = x.event(family.succeeded[0], frame.last, family.succeeded[1], details, frame=frame.key)
        return value
    details = {}
    if answer.error is not None:
        details["error"] = answer.error
    if answer.cause is not None:
        details["cause"] = answer.cause
    details.update(tags)
    frame.last = x.event(family.failed[0], frame.last, family.failed[1], details, frame=frame.key)
    raise TaskFailure(answer.error, answer.cause)


def _timed_out(x: Execution, frame: Frame, family: _Events, name: str, tags: dict[str, Any]) -> StatesError:
    details = {"error": name, **tags}
    frame.last = x.event(family.timed_out[0], frame.last, family.timed_out[1], details, frame=frame.key)
    return StatesError(name, "")


async def _until(clock: Clock, work: Awaitable[Any], deadline: float | None) -> Any:
    """Awaits ``work``, raising :class:`CallbackTimeout` when the clock reaches ``deadline``."""
    import asyncio

    if deadline is None:
        return await work
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(max(0.0, deadline - clock.time())))
    try:
        done, _ = await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        timer.cancel()
        raise
    if task in done:
        timer.cancel()
        return task.result()
    task.cancel()
    raise CallbackTimeout("States.Timeout")


async def run_activity(
    interp: Interpreter, arn: str, params: Any, frame: Frame, timeout: int | None, heartbeat: int | None
) -> Any:
    """Runs an activity Task: schedules it, waits for a worker to take it and answer."""
    x = interp.x
    tokens = interp.services.callbacks
    family = ACTIVITY_EVENTS
    replay = x.replay
    recorded = replay.peek(frame.key) if replay is not None else None
    resumed = recorded is not None and recorded.get("type") == family.scheduled[0]
    if not resumed and tokens.activity_exists is not None and not await tokens.activity_exists(arn):
        raise EvaluationError("States.Runtime", f"The activity {arn} does not exist.")
    input_text = _json.dumps(params)
    scheduled: dict[str, Any] = {"input": input_text, "inputDetails": {"truncated": False}, "resource": arn}
    if timeout is not None:
        scheduled["timeoutInSeconds"] = timeout
    if heartbeat is not None:
        scheduled["heartbeatInSeconds"] = heartbeat
    frame.last = x.event(family.scheduled[0], frame.last, family.scheduled[1], scheduled, frame=frame.key)
    scheduled_id = frame.last
    token = tokens.token(_scope(x), scheduled_id)
    deadline = None if timeout is None else x.event_time(scheduled_id) + timeout
    started = replay.take_any(frame.key, (family.started[0],)) if replay is not None else None
    if started is not None:
        frame.last = int(started["id"])
    found, value = _recorded_outcome(x, frame, family, TaskFailure)
    if found:
        return value
    await x.journal.flush()
    clock = interp.clock
    waiting = tokens.open(
        token,
        x.info.execution_arn,
        clock,
        activity_arn=arn,
        input_text=input_text,
        started=started is not None,
    )
    try:
        try:
            if started is None:
                await wait_for(clock, waiting, waiting.started, deadline=deadline, heartbeat=None)
                worker = waiting.started.result() if waiting.started.done() else None
                details = {"workerName": worker} if worker is not None else {}
                frame.last = x.event(
                    family.started[0], frame.last, family.started[1], details, frame=frame.key
                )
            await wait_for(clock, waiting, waiting.answer, deadline=deadline, heartbeat=heartbeat)
        except CallbackTimeout as exc:
            raise _timed_out(x, frame, family, exc.name, {}) from None
        answer = waiting.answer.result()
    finally:
        tokens.close(token)
    return _finish(x, frame, family, answer, {})


async def run_callback(
    interp: Interpreter,
    call: Callable[[], Awaitable[Any]],
    token: str,
    scheduled: dict[str, Any],
    tags: dict[str, Any],
    frame: Frame,
    timeout: int | None,
    heartbeat: int | None,
) -> Any:
    """Runs a ``.waitForTaskToken`` Task: calls its resource, then waits for the token's answer."""
    x = interp.x
    family = _TASK_EVENTS
    tokens = interp.services.callbacks
    clock = interp.clock
    frame.last = x.event(family.scheduled[0], frame.last, family.scheduled[1], scheduled, frame=frame.key)
    scheduled_id = frame.last
    frame.last = x.event(family.started[0], frame.last, family.started[1], tags, frame=frame.key)
    deadline = None if timeout is None else x.event_time(scheduled_id) + timeout
    # Open before calling the resource: it may answer before it returns.
    waiting = tokens.open(token, x.info.execution_arn, clock)
    try:
        replay = x.replay
        submitted = replay.take_any(frame.key, ("TaskSubmitted",)) if replay is not None else None
        if submitted is not None:
            frame.last = int(submitted["id"])
        else:
            found, value = _recorded_outcome(x, frame, family, TaskFailure)
            if found:
                return value
            await x.journal.flush()
            try:
                result = await _until(clock, call(), deadline)
            except CallbackTimeout as exc:
                raise _timed_out(x, frame, family, exc.name, tags) from None
            except StatesError as err:
                details = {"error": err.name, **tags}
                if err.cause is not None:
                    details["cause"] = err.cause
                frame.last = x.event(family.failed[0], frame.last, family.failed[1], details, frame=frame.key)
                raise
            details = {"output": _json.dumps(result), "outputDetails": {"truncated": False}, **tags}
            frame.last = x.event(
                "TaskSubmitted", frame.last, "taskSubmittedEventDetails", details, frame=frame.key
            )
        found, value = _recorded_outcome(x, frame, family, TaskFailure)
        if found:
            return value
        try:
            await wait_for(clock, waiting, waiting.answer, deadline=deadline, heartbeat=heartbeat)
        except CallbackTimeout as exc:
            raise _timed_out(x, frame, family, exc.name, tags) from None
        answer = waiting.answer.result()
    finally:
        tokens.close(token)
    return _finish(x, frame, family, answer, tags)
