"""Task tokens: Tasks that wait for an answer from outside the engine.

Two kinds of Task wait for someone else to report their result:

- an *activity* Task (``arn:aws:states:REGION:ACCOUNT:activity:NAME``) waits for a
  worker to take it with GetActivityTask, then for that worker's answer;
- a ``.waitForTaskToken`` service integration calls its resource with the token in
  ``$$.Task.Token``, then waits for SendTaskSuccess or SendTaskFailure.

:class:`TaskTokens` (one per :class:`~legato.runtime.services.Services`) maps
each token to the :class:`WaitingTask` that waits for it, queues activity tasks
for workers, and tracks heartbeats.

Tokens are deterministic: a token is the execution ARN and the id of the Task's
Scheduled event, signed with a keyed hash (HMAC-SHA256) and base64-encoded. A
resumed execution replays its recorded events with their recorded ids, so it
makes the same token again, and a token handed out before a restart stays valid
after it with nothing extra stored. A token that does not decode, or whose
signature is wrong, is ``InvalidToken``.

Time. Every wait runs on the injected clock. A Task without TimeoutSeconds or
HeartbeatSeconds waits with no timer at all: AWS's default of 99999999 seconds is
treated as unbounded, so a :class:`~legato.runtime.clock.VirtualClock` never
jumps to it. With a timer, the rule for a virtual clock is:

- waiting for an answer is not work: when nothing else can run, virtual time
  jumps to the Task's deadline, exactly as it does for a Wait state. An answer
  from a coroutine on the same loop (or from a Lambda function while it runs)
  comes in time; an answer from an outside client must come while something
  else keeps the loop busy;
- but a token that an outside worker *holds* (an activity task a worker took with
  GetActivityTask, or any token that received a heartbeat) holds virtual time
  still until it is answered or closed, as a thread running a user function does.
  The worker lives in real time, so its TimeoutSeconds and HeartbeatSeconds are
  measured in real time.

With the system clock, all of this is simply real time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from legato.errors import ApiError, StatesError
from legato.runtime.clock import Clock

__all__ = [
    "DEFAULT_KEY",
    "Answer",
    "CallbackTimeout",
    "TaskFailure",
    "TaskTokens",
    "WaitingTask",
    "wait_for",
]

DEFAULT_KEY = b"legato task token v1"
"""The signing key when none is given (``legato.run``, tests). An engine signs with a
random key, kept in its data directory so that tokens survive a restart."""

_VERSION = b"\x01"
_TAG_BYTES = 16
_CLOSED_KEPT = 10_000  # how many finished tokens are remembered (TaskTimedOut, not TaskDoesNotExist)

INVALID_TOKEN = ApiError("InvalidToken", "Invalid Token: 'Invalid token'")


def _timed_out() -> ApiError:
    return ApiError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")


def _does_not_exist() -> ApiError:
    return ApiError("TaskDoesNotExist", "Task Does Not Exist: 'Provided task does not exist'")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a worker or a client reported for a token."""

    succeeded: bool
    output: str | None = None
    """The JSON text of SendTaskSuccess."""
    error: str | None = None
    cause: str | None = None


class TaskFailure(StatesError):
    """SendTaskFailure's error and cause, either of which may be absent.

    A Catch passes both on, ``null`` when absent (``{"Error": null, "Cause": null}``),
    as Step Functions does.
    """

    def __init__(self, error: str | None, cause: str | None) -> None:
        super().__init__(error or "", cause)
        self.error = error

    def error_output(self) -> dict[str, str | None]:
        """The ``{"Error", "Cause"}`` object a Catch passes on."""
        return {"Error": self.error, "Cause": self.cause}


class CallbackTimeout(Exception):
    """A waiting Task ran out of time: ``name`` is ``States.Timeout`` or ``States.HeartbeatTimeout``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class WaitingTask:
    """One Task waiting for the answer to its token."""

    def __init__(
        self,
        token: str,
        execution_arn: str,
        clock: Clock,
        *,
        activity_arn: str | None = None,
        input_text: str = "{}",
        started: bool = False,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.token = token
        self.execution_arn = execution_arn
        self.activity_arn = activity_arn
        """The activity a worker takes this task from (None for a callback)."""
        self.input_text = input_text
        self.answer: asyncio.Future[Answer] = loop.create_future()
        self.started: asyncio.Future[str | None] = loop.create_future()
        """An activity task's worker name, once a worker has taken it."""
        if started:
            self.started.set_result(None)
        self.last_beat = clock.time()
        self.changed = asyncio.Event()
        """Set when a heartbeat arrives or a worker starts holding the token."""
        self._clock = clock
        self._hold = ExitStack()
        self.held = False

    def hold(self) -> None:
        """An outside worker holds the token: virtual time stands still until it is closed."""
        if not self.held:
            self.held = True
            self._hold.enter_context(self._clock.busy())
        self.changed.set()

    def beat(self) -> None:
        """Records a heartbeat."""
        self.last_beat = self._clock.time()
        self.hold()

    def release(self) -> None:
        """Lets virtual time run again (the wait is over)."""
        self._hold.close()


class TaskTokens:
    """The task tokens of one engine: who waits for which token, and activity queues.

    ``activity_exists`` (set by the engine) tells whether an activity ARN names an
    existing activity; without it every activity ARN is taken to exist.
    """

    def __init__(
        self,
        key: bytes = DEFAULT_KEY,
        activity_exists: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._key = key
        self.activity_exists = activity_exists
        self._open: dict[str, WaitingTask] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._signals: dict[str, asyncio.Event] = {}

    # -- tokens

    def token(self, execution_arn: str, event_id: int) -> str:
        """The token of the Task whose Scheduled event is ``event_id`` in ``execution_arn``."""
        payload = f"{execution_arn}\n{event_id}".encode()
        tag = hmac.new(self._key, payload, hashlib.sha256).digest()[:_TAG_BYTES]
        return base64.urlsafe_b64encode(_VERSION + tag + payload).decode("ascii").rstrip("=")

    def parse(self, token: str) -> tuple[str, int] | None:
        """``(execution_arn, event_id)`` of a token this engine made; None if it did not make it."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= 1 + _TAG_BYTES or raw[:1] != _VERSION:
            return None
        tag, payload = raw[1 : 1 + _TAG_BYTES], raw[1 + _TAG_BYTES :]
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()[:_TAG_BYTES]
        if not hmac.compare_digest(tag, expected):
            return None
        arn, _, event_id = payload.decode("utf-8", errors="replace").rpartition("\n")
        if not arn or not event_id.isdigit():
            return None
        return arn, int(event_id)

    # -- the runtime's side

    def open(
        self,
        token: str,
        execution_arn: str,
        clock: Clock,
        *,
        activity_arn: str | None = None,
        input_text: str = "{}",
        started: bool = False,
    ) -> WaitingTask:
        """Starts waiting for ``token``; an activity task is offered to workers until one takes it."""
        waiting = WaitingTask(
            token, execution_arn, clock, activity_arn=activity_arn, input_text=input_text, started=started
        )
        self._open[token] = waiting
        self._closed.pop(token, None)
        if activity_arn is not None and not started:
            self._signal(activity_arn).set()
        return waiting

    def close(self, token: str) -> None:
        """Stops waiting for ``token`` (answered, timed out, or its execution ended)."""
        waiting = self._open.pop(token, None)
        if waiting is None:
            return
        waiting.release()
        self._closed[token] = None
        while len(self._closed) > _CLOSED_KEPT:
            self._closed.popitem(last=False)

    def waiting(self, activity_arn: str | None = None) -> list[WaitingTask]:
        """The tasks waiting for an answer, oldest first (of one activity, if given)."""
        return [w for w in self._open.values() if activity_arn is None or w.activity_arn == activity_arn]

    # -- the workers' side

    async def take(self, activity_arn: str, worker_name: str | None) -> WaitingTask:
        """Waits until an activity task is scheduled for ``activity_arn`` and hands it to a worker.

        Cancelling the wait (the poll ran out of time) takes nothing.
        """
        while True:
            for waiting in self._open.values():
                if waiting.activity_arn == activity_arn and not waiting.started.done():
                    waiting.started.set_result(worker_name)
                    waiting.beat()  # heartbeats count from here, and the worker holds it
                    return waiting
            signal = self._signal(activity_arn)
            signal.clear()
            await signal.wait()

    def succeed(self, token: str, output: str) -> None:
        """SendTaskSuccess, with ``output`` already checked to be JSON text."""
        self._answerable(token).answer.set_result(Answer(True, output=output))

    def fail(self, token: str, error: str | None, cause: str | None) -> None:
        """SendTaskFailure."""
        self._answerable(token).answer.set_result(Answer(False, error=error, cause=cause))

    def heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat: restarts the token's HeartbeatSeconds."""
        self._answerable(token).beat()

    def _answerable(self, token: str) -> WaitingTask:
        waiting = self._open.get(token)
        if waiting is not None and not waiting.answer.done():
            return waiting
        if self.parse(token) is None:
            raise INVALID_TOKEN
        if waiting is not None or token in self._closed:
            raise _timed_out()
        raise _does_not_exist()

    def _signal(self, activity_arn: str) -> asyncio.Event:
        signal = self._signals.get(activity_arn)
        if signal is None:
            signal = self._signals[activity_arn] = asyncio.Event()
        return signal


async def wait_for(
    clock: Clock,
    waiting: WaitingTask,
    target: asyncio.Future[Any],
    *,
    deadline: float | None,
    heartbeat: int | None,
) -> None:
    """Waits until ``target`` (the task's answer, or an activity task's start) is done.

    Raises :class:`CallbackTimeout` when the clock reaches ``deadline``
    (``States.Timeout``) or ``heartbeat`` seconds pass without a heartbeat
    (``States.HeartbeatTimeout``). The answer itself also ends the wait.
    """
    while not target.done() and not waiting.answer.done():
        waiting.changed.clear()
        limits: list[tuple[float, str]] = []
        now = clock.time()
        if deadline is not None:
            limits.append((deadline - now, "States.Timeout"))
        if heartbeat is not None:
            limits.append((waiting.last_beat + heartbeat - now, "States.HeartbeatTimeout"))
        left, name = min(limits) if limits else (0.0, "")
        if limits and left <= 0.001:
            raise CallbackTimeout(name)
        changed = asyncio.ensure_future(waiting.changed.wait())
        pending: set[asyncio.Future[Any]] = {changed, waiting.answer, target}
        timer = asyncio.ensure_future(clock.sleep(left)) if limits else None
        if timer is not None:
            pending.add(timer)
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            if timer is not None:
                timer.cancel()
