"""RedriveExecution (the API side) and the redrive fields of DescribeExecution and
ListExecutions.

An execution can be redriven when it is a Standard execution that ended
``FAILED``, ``TIMED_OUT`` or ``ABORTED`` less than 14 days ago, that has been
open for less than a year, whose history has room for the ``ExecutionRedriven``
event and one more, and whose state machine still exists. Otherwise
``redriveStatus`` is ``NOT_REDRIVABLE`` with one of AWS's documented
``redriveStatusReason`` texts, and RedriveExecution fails with
``ExecutionNotRedrivable`` and that same text.

A redrive starts a new live :class:`~legato.runtime.execution.Execution` for the
same execution ARN, with ``redrive_count`` one higher and the previous run's
history as its ``recorded`` events: the runtime resumes from the failed state.

``clientToken`` makes a redrive idempotent: the last 10 tokens of an execution
that redrove it successfully, within 15 minutes, return the same ``redriveDate``
without redriving again (tokens live in the engine's memory).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from legato import _apirequest as rq
from legato import _engine_helpers as _h
from legato._versions import context_id
from legato.errors import ApiError
from legato.store.records import ExecutionRecord

if TYPE_CHECKING:
    from legato.engine import Engine

__all__ = ["REDRIVABLE_PERIOD", "add_fields", "redrive", "redrive_status"]

Request = Mapping[str, Any]
Response = dict[str, Any]

REDRIVABLE_PERIOD = 14 * 24 * 3600.0
"""Seconds after its end during which an execution can be redriven."""
MAX_OPEN_TIME = 365 * 24 * 3600.0
"""An execution open longer than a year cannot be redriven."""
HISTORY_LIMIT = 24999
"""A redrive needs room for ``ExecutionRedriven`` and one more event under 25,000."""
TOKEN_TTL = 15 * 60.0
TOKENS_KEPT = 10
_TOKEN_RE = re.compile(r"[!-~]+")
_ENDED = ("FAILED", "TIMED_OUT", "ABORTED")


def redrive_status(
    record: ExecutionRecord, now: float, *, machine_exists: bool = True
) -> tuple[str, str | None]:
    """``(redriveStatus, redriveStatusReason)`` of an execution at time ``now``."""
    if record.status in ("RUNNING", "SUCCEEDED"):
        return "NOT_REDRIVABLE", f"Execution is {record.status} and cannot be redriven"
    if record.status not in _ENDED:
        return "NOT_REDRIVABLE", f"Execution is {record.status} and cannot be redriven"
    if record.type == "EXPRESS":
        # Express executions are redriven only by redriving the Map Run that started them.
        if record.map_run_arn is not None:
            return "REDRIVABLE_BY_MAP_RUN", None
        return "NOT_REDRIVABLE", "Execution of an EXPRESS state machine cannot be redriven"
    if not machine_exists:
        return "NOT_REDRIVABLE", "State machine is in DELETING status"
    if len(record.history) >= HISTORY_LIMIT:
        return "NOT_REDRIVABLE", "Execution history event limit exceeded"
    if now - record.start_date >= MAX_OPEN_TIME:
        return "NOT_REDRIVABLE", "Execution has exceeded the max execution time"
    if record.stop_date is not None and now - record.stop_date >= REDRIVABLE_PERIOD:
        return "NOT_REDRIVABLE", "Execution redrivable period exceeded"
    return "REDRIVABLE", None


async def _machine_exists(engine: Engine, record: ExecutionRecord) -> bool:
    if record.map_run_arn is not None:
        return True  # a Map Run's child runs the item processor of its parent's definition
    return await engine.store.get_state_machine(record.state_machine_arn) is not None


async def add_fields(engine: Engine, out: Response, record: ExecutionRecord) -> Response:
    """Adds the version, alias and redrive fields of DescribeExecution to ``out``."""
    if record.state_machine_version_arn is not None:
        out["stateMachineVersionArn"] = record.state_machine_version_arn
    if record.state_machine_alias_arn is not None:
        out["stateMachineAliasArn"] = record.state_machine_alias_arn
    out["redriveCount"] = record.redrive_count
    if record.redrive_date is not None:
        out["redriveDate"] = record.redrive_date
    # Only a Standard execution that ended unsuccessfully asks whether its machine exists.
    asks = record.status in _ENDED and record.type != "EXPRESS"
    exists = await _machine_exists(engine, record) if asks else True
    status, reason = redrive_status(record, engine.clock.time(), machine_exists=exists)
    out["redriveStatus"] = status
    out.pop("redriveStatusReason", None)
    if reason is not None:
        out["redriveStatusReason"] = reason
    return out


def _tokens(engine: Engine) -> dict[str, list[tuple[str, float, float]]]:
    """execution ARN -> [(clientToken, first used, redriveDate)], newest last."""
    tokens: dict[str, list[tuple[str, float, float]]] | None = getattr(engine, "_redrive_tokens", None)
    if tokens is None:
        tokens = {}
        setattr(engine, "_redrive_tokens", tokens)  # noqa: B010 (the engine knows nothing of it)
    return tokens


async def redrive(engine: Engine, req: Request) -> Response:
    """RedriveExecution: restarts an unsuccessful Standard execution from where it failed."""
    arn = rq.need_str(req, "executionArn")
    token = rq.get_str(req, "clientToken", min_len=1, max_len=64)
    if token is not None and not _TOKEN_RE.fullmatch(token):
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{token}' at 'clientToken' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [!-~]+",
        )
    record = await engine._execution(arn)
    now = engine.clock.time()
    used = _tokens(engine).setdefault(record.arn, [])
    used[:] = [t for t in used if now - t[1] < TOKEN_TTL]
    if token is not None:
        for seen, _, redrive_date in used:
            if seen == token:
                return {"redriveDate": redrive_date}
    status, reason = redrive_status(record, now, machine_exists=await _machine_exists(engine, record))
    if status != "REDRIVABLE":
        raise ApiError("ExecutionNotRedrivable", reason or f"Execution Not Redrivable: '{record.arn}'")
    if record.map_run_arn is not None:
        # A Map Run's child is redriven by its Map Run, when its parent is redriven.
        raise ApiError(
            "ExecutionNotRedrivable",
            f"Execution '{record.arn}' was started by the Map Run '{record.map_run_arn}': "
            "redrive its parent execution to redrive it",
        )
    from legato import _durable

    recorded = await _durable.history(engine, record)
    _restart(engine, record, now, recorded)
    await engine.store.put_execution(record)
    if token is not None:
        used.append((token, now, now))
        del used[:-TOKENS_KEPT]
    return {"redriveDate": now}


def _restart(engine: Engine, record: ExecutionRecord, now: float, recorded: list[dict[str, Any]]) -> None:
    """Starts a new live run of ``record``'s execution that resumes the previous one."""
    from legato.runtime.execution import Execution

    machine = engine._compile(record.definition)
    from legato import _durable

    info = _durable.execution_info(record, record.redrive_count + 1)
    ex = Execution(
        machine,
        info,
        record.input_text,
        engine.services,
        journal=getattr(engine, "journal", None),
        recorded=list(recorded),
        redrive=True,
    )
    ex.context_state_machine["Id"] = context_id(record)
    record.runtime = ex
    record.redrive_count += 1
    record.redrive_date = now
    _h.absorb(record)
    task = asyncio.create_task(engine._drive(record, ex), name=f"legato-redrive:{record.arn}")
    engine._tasks.add(task)
    task.add_done_callback(engine._tasks.discard)
