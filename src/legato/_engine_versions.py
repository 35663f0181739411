"""The Engine's operations for state machine versions and aliases, RedriveExecution and
ListExecutions, as a mixin that :class:`legato.engine.Engine` inherits.

The logic lives in :mod:`legato._versions`, :mod:`legato._aliases` and
:mod:`legato._redrive`; these methods only give them the Engine's API shape
(one async method per operation, a request dict or keyword fields in, a
response dict out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from legato import _aliases, _redrive, _versions
from legato import _apirequest as rq
from legato import _engine_helpers as _h
from legato.errors import ApiError
from legato.store.records import ExecutionRecord, StateMachineRecord

if TYPE_CHECKING:
    from legato.engine import Engine

__all__ = ["VersioningOperations"]

Request = Mapping[str, Any]
Response = dict[str, Any]

_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
_REDRIVE_FILTERS = ("REDRIVEN", "NOT_REDRIVEN")


def _merge(request: Request | None, fields: dict[str, Any]) -> dict[str, Any]:
    merged = dict(request or {})
    merged.update(fields)
    return merged


class VersioningOperations:
    """Versions, aliases, RedriveExecution and ListExecutions (mixed into the Engine)."""

    def _engine(self) -> Engine:
        return cast("Engine", self)

    # -- versions

    async def publish_state_machine_version(
        self, request: Request | None = None, /, **fields: Any
    ) -> Response:
        """PublishStateMachineVersion: an immutable snapshot of the current revision."""
        return await _versions.publish_request(self._engine(), _merge(request, fields))

    async def list_state_machine_versions(self, request: Request | None = None, /, **fields: Any) -> Response:
        """ListStateMachineVersions, newest first, paginated."""
        return await _versions.list_versions(self._engine(), _merge(request, fields))

    async def delete_state_machine_version(
        self, request: Request | None = None, /, **fields: Any
    ) -> Response:
        """DeleteStateMachineVersion (refused while an alias routes to the version)."""
        return await _versions.delete_version(self._engine(), _merge(request, fields))

    async def _published(
        self, record: StateMachineRecord, publish: bool, description: str | None
    ) -> Response:
        """``{"stateMachineVersionArn": ...}`` after ``publish=true``, else ``{}``."""
        if not publish:
            return {}
        version = await _versions.publish(self._engine(), record, description)
        return {"stateMachineVersionArn": version.arn}

    # -- aliases

    async def create_state_machine_alias(self, request: Request | None = None, /, **fields: Any) -> Response:
        """CreateStateMachineAlias (idempotent for the same name, description and routing)."""
        return await _aliases.create(self._engine(), _merge(request, fields))

    async def describe_state_machine_alias(
        self, request: Request | None = None, /, **fields: Any
    ) -> Response:
        """DescribeStateMachineAlias."""
        return await _aliases.describe(self._engine(), _merge(request, fields))

    async def list_state_machine_aliases(self, request: Request | None = None, /, **fields: Any) -> Response:
        """ListStateMachineAliases of a state machine (or of one of its versions)."""
        return await _aliases.list_aliases(self._engine(), _merge(request, fields))

    async def update_state_machine_alias(self, request: Request | None = None, /, **fields: Any) -> Response:
        """UpdateStateMachineAlias: description and/or routing configuration."""
        return await _aliases.update(self._engine(), _merge(request, fields))

    async def delete_state_machine_alias(self, request: Request | None = None, /, **fields: Any) -> Response:
        """DeleteStateMachineAlias."""
        return await _aliases.delete(self._engine(), _merge(request, fields))

    # -- executions

    async def redrive_execution(self, request: Request | None = None, /, **fields: Any) -> Response:
        """RedriveExecution: restarts a failed, timed-out or aborted Standard execution."""
        return await _redrive.redrive(self._engine(), _merge(request, fields))

    async def _execution_fields(self, out: Response, record: ExecutionRecord) -> Response:
        """Adds the version, alias and redrive fields to a DescribeExecution response."""
        return await _redrive.add_fields(self._engine(), out, record)

    async def list_executions(self, request: Request | None = None, /, **fields: Any) -> Response:
        """ListExecutions of a Standard machine, a version or an alias, newest first,
        optionally filtered by status and by whether they were redriven."""
        req = _merge(request, fields)
        engine = self._engine()
        if req.get("mapRunArn") is not None:
            result: Response = await engine._list_children(req)
            return result
        target = await _versions.resolve(engine, rq.need_str(req, "stateMachineArn"), pick=False)
        if target.machine.type == "EXPRESS":
            raise ApiError(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            )
        status = rq.get_enum(req, "statusFilter", _STATUSES, None)
        redriven = rq.get_enum(req, "redriveFilter", _REDRIVE_FILTERS, None)
        records = await engine.store.list_executions(target.machine.arn)
        for r in records:
            _h.absorb(r)

        def chosen(r: ExecutionRecord) -> bool:
            if status is not None and r.status != status:
                return False
            if redriven is not None and (r.redrive_count > 0) != (redriven == "REDRIVEN"):
                return False
            if target.alias is not None:
                return r.state_machine_alias_arn == target.alias.arn
            if target.version is not None:
                return r.state_machine_version_arn == target.version.arn
            return True

        matching = [r for r in reversed(records) if chosen(r)]
        page, token = rq.paginate(req, matching, f"executions:{target.arn}:{status}:{redriven}")
        items = []
        for r in page:
            item: Response = {
                "executionArn": r.arn,
                "stateMachineArn": r.state_machine_arn,
                "name": r.name,
                "status": r.status,
                "startDate": r.start_date,
            }
            if r.stop_date is not None:
                item["stopDate"] = r.stop_date
            if r.state_machine_version_arn is not None:
                item["stateMachineVersionArn"] = r.state_machine_version_arn
            if r.state_machine_alias_arn is not None:
                item["stateMachineAliasArn"] = r.state_machine_alias_arn
            item["redriveCount"] = r.redrive_count
            if r.redrive_date is not None:
                item["redriveDate"] = r.redrive_date
            items.append(item)
        out: Response = {"executions": items}
        if token:
            out["nextToken"] = token
        return out
