"""One execution of a state machine: its status, its history, its lifecycle."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from legato import _json
from legato.errors import StatesError
from legato.runtime.journal import Journal, NullJournal
from legato.runtime.machine import Machine
from legato.runtime.replay import Replay
from legato.runtime.services import Services

PAYLOAD_LIMIT = 262144


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """Names and ARNs of an execution, as the context object shows them."""

    execution_arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    role_arn: str
    type: str = "STANDARD"
    redrive_count: int = 0


_ISO_SECOND: tuple[int, str] = (-1, "")


def iso_time(seconds: float) -> str:
    """The context object's time format: ``2024-01-02T03:04:05.678Z``."""
    global _ISO_SECOND
    whole = int(seconds)
    cached = _ISO_SECOND  # one read: the pair is swapped whole, so threads see it consistent
    if cached[0] != whole:
        # Every state formats its entry time; the part up to the second changes rarely.
        cached = (whole, datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S."))
        _ISO_SECOND = cached
    millis = min(999, int((seconds - whole) * 1000))
    return f"{cached[1]}{millis:03d}Z"


class ExecutionTimedOut(Exception):
    """The machine-level TimeoutSeconds elapsed."""


class Execution:
    """A running (or finished) execution.

    ``history`` holds the events in GetExecutionHistory shape, with payloads
    as JSON text and ``timestamp`` in epoch seconds.
    """

    def __init__(
        self,
        machine: Machine,
        info: ExecutionInfo,
        input_text: str | None,
        services: Services,
        *,
        journal: Journal | None = None,
        recorded: list[dict[str, Any]] | None = None,
        redrive: bool = False,
        keep_history: bool = True,
    ) -> None:
        """``journal`` receives every event (durable executions). ``recorded`` holds the
        events an earlier run of this execution recorded: they are replayed, not re-run
        (see :mod:`legato.runtime.replay`). With ``redrive``, the recorded run had
        failed and this one reruns what failed or did not run.

        Without ``keep_history`` (an Express execution nobody can ask the history of,
        as in Step Functions), events are numbered and timed but not kept: ``history``
        stays empty, and their details need not be built (see :attr:`keeps_history`)."""
        self.keeps_history = keep_history
        self._count = 0
        self._times: list[float] = []
        self.machine = machine
        self.journal: Journal = journal or NullJournal()
        self.redrive = redrive
        self._replay: Replay | None = Replay(recorded, redrive=redrive) if recorded else None
        self.info = info
        self.services = services
        self.input_text = "{}" if input_text is None else input_text
        self.status = "RUNNING"
        self.start_time = services.clock.time()
        self.stop_time: float | None = None
        self.output_text: str | None = None
        self.output: Any = None
        self.error: str | None = None
        self.cause: str | None = None
        self.history: list[dict[str, Any]] = list(recorded or ())
        if self.history and isinstance(self.history[0].get("timestamp"), int | float):
            self.start_time = float(self.history[0]["timestamp"])
        self._task: asyncio.Task[None] | None = None
        self._done: asyncio.Event | None = None
        self._stop_request: tuple[str | None, str | None] | None = None
        self.context_execution: dict[str, Any] = {}
        self.context_state_machine = {"Id": info.state_machine_arn, "Name": info.state_machine_name}

    # -- events

    def event(
        self,
        type_: str,
        previous: int,
        key: str | None = None,
        details: Any = None,
        *,
        frame: str = "",
        internal: dict[str, Any] | None = None,
        fresh: bool = False,
    ) -> int:
        """Records a history event in ``frame`` and returns its id.

        While the frame replays, the matching recorded event stands in for it,
        unless ``fresh`` says the event is new by nature.
        """
        if self._replay is not None and not fresh:
            recorded = self._replay.take(frame, type_)
            if recorded is not None:
                return int(recorded["id"])
        if not self.keeps_history:
            self._count += 1
            self._times.append(self.services.clock.time())
            return self._count
        eid = len(self.history) + 1
        ev: dict[str, Any] = {
            "timestamp": self.services.clock.time(),
            "type": type_,
            "id": eid,
            "previousEventId": previous,
        }
        if key is not None:
            ev[key] = details if details is not None else {}
        if frame:
            ev["_f"] = frame
        if internal:
            ev.update(internal)
        self.history.append(ev)
        self.journal.append(self.info.execution_arn, ev)
        return eid

    def detached(self) -> Execution:
        """An execution sharing this one's names and context but keeping its own,
        unjournaled history: a Distributed Map child run."""
        child = Execution(self.machine, self.info, self.input_text, self.services)
        child.start_time = self.start_time
        child.context_execution = self.context_execution
        return child

    def count_events(self, count: int, at: float) -> None:
        """Numbers ``count`` events recorded at ``at`` without building them: only for
        an execution that keeps no history and does not replay."""
        assert not self.keeps_history and self._replay is None
        self._count += count
        self._times.extend([at] * count)

    def event_time(self, event_id: int) -> float:
        """When the event with this id was recorded."""
        if not self.keeps_history:
            return self._times[event_id - 1]
        return float(self.history[event_id - 1]["timestamp"])

    @property
    def replay(self) -> Replay | None:
        """The recorded events still to be matched, when resuming or redriving."""
        return self._replay

    @property
    def last_event_id(self) -> int:
        """The id of the newest event (0 before any)."""
        return len(self.history) if self.keeps_history else self._count

    # -- lifecycle

    async def run(self) -> None:
        """Runs the execution to its end. Never raises for a failing workflow."""
        from legato.runtime.interpreter import Interpreter

        self._task = asyncio.current_task()
        if self._done is None:
            self._done = asyncio.Event()
        started = self.event(
            "ExecutionStarted",
            0,
            "executionStartedEventDetails",
            {"input": self.input_text, "inputDetails": {"truncated": False}, "roleArn": self.info.role_arn},
        )
        if self.redrive:
            self.event(
                "ExecutionRedriven",
                self.last_event_id,
                "executionRedrivenEventDetails",
                {"redriveCount": self.info.redrive_count},
                fresh=True,
            )
        try:
            try:
                value = _json.loads(self.input_text)
            except ValueError:
                raise StatesError("States.Runtime", "The execution input is not valid JSON") from None
            self.context_execution = {
                "Id": self.info.execution_arn,
                "Input": value,
                "StartTime": iso_time(self.start_time),
                "Name": self.info.name,
                "RoleArn": self.info.role_arn,
            }
            if self.info.type != "EXPRESS":
                # Express executions cannot be redriven and have no count.
                self.context_execution["RedriveCount"] = self.info.redrive_count
            interpreter = Interpreter(self)
            timeout = self.machine.graph.timeout_seconds
            body = interpreter.run_machine(value, started)
            if timeout is not None:
                remaining = timeout - (self.services.clock.time() - self.start_time)
                output = await _with_timeout(self, body, max(0.0, remaining))
            else:
                output = await body
            text = _json.dumps(output)
            self.output = output
            self.output_text = text
            self.event(
                "ExecutionSucceeded",
                self.last_event_id,
                "executionSucceededEventDetails",
                {"output": text, "outputDetails": {"truncated": False}},
            )
            self._finish("SUCCEEDED")
        except StatesError as exc:
            self.error, self.cause = exc.name or None, exc.cause or None
            details: dict[str, Any] = {}
            if exc.name:
                details["error"] = exc.name
            if exc.cause:
                details["cause"] = exc.cause
            self.event("ExecutionFailed", self.last_event_id, "executionFailedEventDetails", details)
            self._finish("FAILED")
        except ExecutionTimedOut:
            # AWS reports a machine-level timeout with no error or cause.
            self.event("ExecutionTimedOut", self.last_event_id, "executionTimedOutEventDetails", {})
            self._finish("TIMED_OUT")
        except asyncio.CancelledError:
            error, cause = self._stop_request or (None, None)
            self.error, self.cause = error, cause
            details = {}
            if error is not None:
                details["error"] = error
            if cause is not None:
                details["cause"] = cause
            self.event("ExecutionAborted", self.last_event_id, "executionAbortedEventDetails", details)
            self._finish("ABORTED")
            if self._stop_request is None:
                raise

    def _finish(self, status: str) -> None:
        self.status = status
        self.stop_time = self.services.clock.time()
        if self._done is not None:
            self._done.set()

    def stop(self, error: str | None = None, cause: str | None = None) -> bool:
        """Aborts a running execution; False if it had already ended."""
        if self.status != "RUNNING":
            return False
        self._stop_request = (error, cause)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        else:
            # Not started on a loop yet: record the abort directly.
            self.error, self.cause = error, cause
            self.event("ExecutionAborted", self.last_event_id, "executionAbortedEventDetails", {})
            self._finish("ABORTED")
        return True

    async def wait(self) -> None:
        """Waits until the execution has ended."""
        if self.status != "RUNNING":
            return
        if self._done is None:
            self._done = asyncio.Event()
        await self._done.wait()


async def _with_timeout(execution: Execution, body: Any, timeout: float) -> Any:
    """Runs ``body`` racing the machine's TimeoutSeconds on the injected clock."""
    work = asyncio.ensure_future(body)
    timer = asyncio.ensure_future(execution.services.clock.sleep(timeout))
    try:
        done, _ = await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        timer.cancel()
        raise
    if work in done:
        timer.cancel()
        return work.result()
    work.cancel()
    try:
        await work
    except BaseException:  # the work's own cancellation
        pass
    raise ExecutionTimedOut()
