"""The Engine's operations for activity workers and callbacks, as a mixin that
:class:`legato.engine.Engine` inherits: GetActivityTask, SendTaskSuccess,
SendTaskFailure and SendTaskHeartbeat.

The waiting itself lives in :mod:`legato.runtime.callbacks`; these methods
validate requests as AWS does and give it the Engine's API shape.

Choices where AWS is silent:

- GetActivityTask on an activity that does not exist (or was deleted) fails with
  ``ActivityDoesNotExist``, as DescribeActivity does.
- DeleteActivity while Tasks wait on the activity: the Tasks keep waiting (until
  their TimeoutSeconds, or forever without one) and a worker that already holds a
  token can still answer it, but no worker can take a task from the deleted
  activity; a new activity Task on it fails with ``States.Runtime``.
- An answer to a token this engine made for a task that is no longer waiting
  (answered, timed out, or its execution ended) is ``TaskTimedOut``; a token it
  made for a task it does not know is ``TaskDoesNotExist``; anything else is
  ``InvalidToken``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from legato import _apirequest as rq
from legato import _engine_helpers as _h
from legato import arns
from legato.errors import ApiError
from legato.runtime.callbacks import TaskTokens

if TYPE_CHECKING:
    from legato.engine import Engine

__all__ = ["POLL_SECONDS", "ActivityTaskOperations", "task_tokens"]

Request = Mapping[str, Any]
Response = dict[str, Any]

POLL_SECONDS = 60.0
"""How long GetActivityTask holds a poll open when no task is scheduled (AWS: 60 s)."""
OUTPUT_LIMIT = 262144
TOKEN_LIMIT = 2048


def _merge(request: Request | None, fields: dict[str, Any]) -> dict[str, Any]:
    merged = dict(request or {})
    merged.update(fields)
    return merged


def task_tokens(engine: Engine) -> TaskTokens:
    """The engine's token registry; it asks the engine's store whether an activity exists."""

    async def activity_exists(arn: str) -> bool:
        return await engine.store.get_activity(arn) is not None

    return TaskTokens(activity_exists=activity_exists, key=_token_key(engine))


def _token_key(engine: Engine) -> bytes:
    """The key task tokens are signed with: random, and kept beside a durable store so
    that tokens stay valid across a restart (never the same for two data directories)."""
    directory = getattr(engine.store, "directory", None)
    if not isinstance(directory, Path):
        return os.urandom(32)
    path = directory / "task-token.key"
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class ActivityTaskOperations:
    """GetActivityTask and the SendTask* operations (mixed into the Engine)."""

    poll_seconds: float = POLL_SECONDS
    """The long-poll limit of GetActivityTask; tests may shorten it."""

    def _engine(self) -> Engine:
        return cast("Engine", self)

    def _tokens(self) -> TaskTokens:
        return self._engine().services.callbacks

    async def get_activity_task(self, request: Request | None = None, /, **fields: Any) -> Response:
        """GetActivityTask: waits up to 60 s for a task of the activity; ``{}`` when none came.

        The worker's ``workerName`` is recorded in the ActivityStarted event.
        """
        req = _merge(request, fields)
        arn = rq.need_str(req, "activityArn")
        worker = rq.get_str(req, "workerName", min_len=1, max_len=80)
        arns.expect_arn(arn, "activity")
        if await self._engine().store.get_activity(arn) is None:
            raise ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        with contextlib.suppress(TimeoutError):
            task = await asyncio.wait_for(self._tokens().take(arn, worker), self.poll_seconds)
            return {"taskToken": task.token, "input": task.input_text}
        return {}

    async def send_task_success(self, request: Request | None = None, /, **fields: Any) -> Response:
        """SendTaskSuccess: the task's JSON output (at most 262144 bytes)."""
        req = _merge(request, fields)
        token = rq.need_str(req, "taskToken", max_len=TOKEN_LIMIT)
        output = rq.get_str(req, "output", required=True, sensitive=True)
        assert output is not None
        if len(output.encode("utf-8")) > OUTPUT_LIMIT:
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value at 'output' failed to satisfy constraint: "
                f"Member must have length less than or equal to {OUTPUT_LIMIT}",
            )
        reason = rq.invalid_json_reason(output)
        if reason is not None:
            raise ApiError("InvalidOutput", f"Invalid Output: '{reason}'")
        await self._answer(token, lambda tokens: tokens.succeed(token, output))
        return {}

    async def send_task_failure(self, request: Request | None = None, /, **fields: Any) -> Response:
        """SendTaskFailure: an optional error name (256) and cause (32768)."""
        req = _merge(request, fields)
        token = rq.need_str(req, "taskToken", max_len=TOKEN_LIMIT)
        error = rq.get_str(req, "error", max_len=256, sensitive=True)
        cause = rq.get_str(req, "cause", max_len=32768, sensitive=True)
        await self._answer(token, lambda tokens: tokens.fail(token, error, cause))
        return {}

    async def send_task_heartbeat(self, request: Request | None = None, /, **fields: Any) -> Response:
        """SendTaskHeartbeat: restarts the task's HeartbeatSeconds."""
        req = _merge(request, fields)
        token = rq.need_str(req, "taskToken", max_len=TOKEN_LIMIT)
        await self._answer(token, lambda tokens: tokens.heartbeat(token))
        return {}

    async def _answer(self, token: str, act: Any) -> None:
        """Runs ``act`` on the registry; a token for an execution that has ended is TaskTimedOut."""
        tokens = self._tokens()
        try:
            act(tokens)
        except ApiError as exc:
            if exc.type != "TaskDoesNotExist":
                raise
            parsed = tokens.parse(token)
            if parsed is not None:
                record = await self._engine().store.get_execution(parsed[0])
                if record is not None:
                    _h.absorb(record)
                if record is not None and record.status != "RUNNING":
                    raise ApiError(
                        "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"
                    ) from None
            raise
