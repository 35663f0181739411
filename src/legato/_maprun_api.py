"""The Engine's Map Run operations (DescribeMapRun, ListMapRuns, UpdateMapRun) and the
child executions of Map Runs, as a mixin that :class:`legato.engine.Engine` inherits.

A Map Run that this engine ran since it started is answered from its live
:class:`legato.maprun.run.MapRun` (counts update as children end); older ones from
the store's :class:`~legato.store.records.MapRunRecord`. Standard children that ran in
the engine's process are durable executions in the store (with their Map Run's ARN);
those run on another executor are answered from the live Map Run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from legato import _apirequest as rq
from legato import _engine_helpers as _h
from legato.errors import ApiError
from legato.maprun.run import MapRun, live_runs
from legato.store.records import ExecutionRecord, MapRunRecord

if TYPE_CHECKING:
    from legato.engine import Engine

__all__ = ["MapRunOperations", "child_record", "map_run_of"]

Request = Mapping[str, Any]
Response = dict[str, Any]


def _merge(request: Request | None, fields: dict[str, Any]) -> dict[str, Any]:
    merged = dict(request or {})
    merged.update(fields)
    return merged


def _not_found(arn: str) -> ApiError:
    return ApiError("ResourceNotFound", f"Resource not found: '{arn}'")


def _check_arn(arn: str) -> None:
    if not arn.startswith("arn:") or ":mapRun:" not in arn:
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")


def map_run_of(engine: Any, child_arn: str) -> MapRun | None:
    """The live Map Run that started the child execution ``child_arn``."""
    for run in live_runs(engine).values():
        if child_arn in run.children:
            return run
    return None


def child_record(engine: Any, arn: str) -> ExecutionRecord | None:
    """An ExecutionRecord for a Standard child execution of a live Map Run, or None."""
    run = map_run_of(engine, arn)
    if run is None:
        return None
    child = run.children[arn]
    ex = child.runtime
    if ex is None:
        return None
    record = ExecutionRecord(
        arn=arn,
        name=child.name,
        state_machine_arn=ex.info.state_machine_arn,
        state_machine_name=ex.info.state_machine_name,
        type=ex.info.type,
        input_text=ex.input_text,
        start_date=ex.start_time,
        definition="",
        role_arn=ex.info.role_arn,
        state_machine_update_date=run.record.start_date,
        revision_id="",
        logging_configuration={},
        tracing_configuration={},
        encryption_configuration={},
        runtime=ex,
        map_run_arn=run.arn,
        item_count=child.items,
    )
    return record


class MapRunOperations:
    """DescribeMapRun, ListMapRuns, UpdateMapRun and the child executions of Map Runs."""

    def _engine(self) -> Engine:
        return cast("Engine", self)

    async def _map_run(self, arn: str) -> tuple[MapRunRecord, MapRun | None]:
        _check_arn(arn)
        engine = self._engine()
        live = live_runs(engine).get(arn)
        if live is not None:
            return live.record, live
        record = await engine.store.get_map_run(arn)
        if record is None:
            raise _not_found(arn)
        return record, None

    async def describe_map_run(self, request: Request | None = None, /, **fields: Any) -> Response:
        """DescribeMapRun: a Map Run's status, limits and item and execution counts."""
        req = _merge(request, fields)
        record, _live = await self._map_run(rq.need_str(req, "mapRunArn"))
        out: Response = {
            "mapRunArn": record.arn,
            "executionArn": record.execution_arn,
            "status": record.status,
            "startDate": record.start_date,
            "maxConcurrency": record.max_concurrency,
            "toleratedFailurePercentage": record.tolerated_failure_percentage,
            "toleratedFailureCount": record.tolerated_failure_count,
            "itemCounts": dict(record.item_counts),
            "executionCounts": dict(record.execution_counts),
            "redriveCount": record.redrive_count,
        }
        if record.stop_date is not None:
            out["stopDate"] = record.stop_date
        if record.redrive_date is not None:
            out["redriveDate"] = record.redrive_date
        return out

    async def list_map_runs(self, request: Request | None = None, /, **fields: Any) -> Response:
        """ListMapRuns: the Map Runs an execution started, oldest first, paginated."""
        req = _merge(request, fields)
        engine = self._engine()
        execution_arn = rq.need_str(req, "executionArn")
        await engine._execution(execution_arn)
        stored = {r.arn: r for r in await engine.store.list_map_runs(execution_arn)}
        for run in live_runs(engine).values():
            if run.record.execution_arn == execution_arn:
                stored[run.arn] = run.record
        records = sorted(stored.values(), key=lambda r: r.start_date)
        page, token = rq.paginate(req, records, f"mapruns:{execution_arn}")
        items = []
        for r in page:
            item: Response = {
                "executionArn": r.execution_arn,
                "mapRunArn": r.arn,
                "stateMachineArn": r.state_machine_arn,
                "startDate": r.start_date,
            }
            if r.stop_date is not None:
                item["stopDate"] = r.stop_date
            items.append(item)
        out: Response = {"mapRuns": items}
        if token:
            out["nextToken"] = token
        return out

    async def update_map_run(self, request: Request | None = None, /, **fields: Any) -> Response:
        """UpdateMapRun: MaxConcurrency and the tolerated failures, effective at once."""
        req = _merge(request, fields)
        record, live = await self._map_run(rq.need_str(req, "mapRunArn"))
        max_conc = req.get("maxConcurrency")
        pct = req.get("toleratedFailurePercentage")
        count = req.get("toleratedFailureCount")
        if max_conc is None and pct is None and count is None:
            raise ApiError(
                "ValidationException",
                "At least one of the parameters maxConcurrency, toleratedFailurePercentage "
                "or toleratedFailureCount must be specified",
            )
        if max_conc is not None and (
            not isinstance(max_conc, int) or isinstance(max_conc, bool) or max_conc < 0
        ):
            raise ApiError("ValidationException", "maxConcurrency must be a non-negative integer")
        if pct is not None and (
            not isinstance(pct, int | float) or isinstance(pct, bool) or not 0 <= pct <= 100
        ):
            raise ApiError("ValidationException", "toleratedFailurePercentage must be between 0 and 100")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise ApiError("ValidationException", "toleratedFailureCount must be a non-negative integer")
        if live is not None:
            live.update(max_conc, None if pct is None else float(pct), count)
        else:
            if max_conc is not None:
                record.max_concurrency = max_conc
            if pct is not None:
                record.tolerated_failure_percentage = float(pct)
            if count is not None:
                record.tolerated_failure_count = count
        await self._engine().store.put_map_run(record)
        return {}

    async def _list_children(self, req: Request) -> Response:
        """ListExecutions with ``mapRunArn``: the Map Run's Standard child executions, newest
        first (durable children from the store, those run on another executor from the live run)."""
        arn = rq.need_str(req, "mapRunArn")
        if req.get("stateMachineArn") is not None:
            raise ApiError(
                "ValidationException", "Exactly one of stateMachineArn or mapRunArn must be specified"
            )
        _record, live = await self._map_run(arn)
        status = req.get("statusFilter")
        children: list[Response] = []
        for r in await self._engine().store.list_map_run_children(arn):
            _h.absorb(r)
            item: Response = {
                "executionArn": r.arn,
                "stateMachineArn": r.state_machine_arn,
                "name": r.name,
                "status": r.status,
                "startDate": r.start_date,
                "mapRunArn": arn,
                "itemCount": r.item_count if r.item_count is not None else 1,
            }
            if r.stop_date is not None:
                item["stopDate"] = r.stop_date
            children.append(item)
        for c in live.children.values() if live is not None else ():
            ex = c.runtime
            item = {
                "executionArn": c.arn,
                "stateMachineArn": ex.info.state_machine_arn if ex is not None else "",
                "name": c.name,
                "status": ex.status if ex is not None else c.status,
                "startDate": c.start_date,
                "mapRunArn": arn,
                "itemCount": c.items,
            }
            if ex is not None and ex.stop_time is not None:
                item["stopDate"] = ex.stop_time
            children.append(item)
        chosen = [c for c in reversed(children) if status is None or c["status"] == status]
        page, token = rq.paginate(req, chosen, f"children:{arn}:{status}")
        out: Response = {"executions": page}
        if token:
            out["nextToken"] = token
        return out
