"""The engine: Step Functions API operations over a store and the runtime.

:class:`Engine` has one async method per API operation, named in snake_case
(``create_state_machine``, ``start_execution`` ...). Each takes the operation's
request and returns its response, both as plain dicts shaped exactly as the
AWS JSON protocol shapes them (camelCase keys; timestamps as epoch seconds).
Bad requests raise :class:`~legato.errors.ApiError` with AWS's error type and
message. The HTTP API and the CLI are thin adapters over this class.

Choices where AWS leaves room (a local engine has no IAM):

- ``roleArn`` is optional on CreateStateMachine; it defaults to
  ``arn:aws:iam::ACCOUNT:role/LegatoExecutionRole``.
- Versions, aliases and RedriveExecution live in :mod:`legato._engine_versions`
  (a mixin of :class:`Engine`) and the modules it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from legato import _apirequest as rq
from legato import _durable, _maprun_api, _versions, arns
from legato import _engine_helpers as _h
from legato._activities import ActivityTaskOperations, task_tokens
from legato._engine_versions import VersioningOperations
from legato._maprun_api import MapRunOperations
from legato.errors import ApiError, DefinitionError, Diagnostic
from legato.integrations.functions import FunctionRegistry, Handler
from legato.integrations.settings import IntegrationSettings
from legato.runtime import mocks as _mocks
from legato.runtime.clock import Clock, IdProvider, RandomIds, SystemClock
from legato.runtime.journal import public_event
from legato.store.memory import MemoryStore
from legato.store.records import ActivityRecord, ExecutionRecord, StateMachineRecord, Store

if TYPE_CHECKING:
    from legato.runtime.execution import Execution
    from legato.runtime.machine import Machine
    from legato.runtime.services import Services

__all__ = ["OPERATIONS", "Engine"]

log = logging.getLogger("legato.engine")

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFINITION_LIMIT = 1048576
TAG_LIMIT = _h.TAG_LIMIT

OPERATIONS: dict[str, str] = {
    "CreateStateMachine": "create_state_machine",
    "DescribeStateMachine": "describe_state_machine",
    "DescribeStateMachineForExecution": "describe_state_machine_for_execution",
    "ListStateMachines": "list_state_machines",
    "UpdateStateMachine": "update_state_machine",
    "DeleteStateMachine": "delete_state_machine",
    "StartExecution": "start_execution",
    "StartSyncExecution": "start_sync_execution",
    "StopExecution": "stop_execution",
    "DescribeExecution": "describe_execution",
    "ListExecutions": "list_executions",
    "GetExecutionHistory": "get_execution_history",
    "ValidateStateMachineDefinition": "validate_state_machine_definition",
    "TestState": "test_state",
    "CreateActivity": "create_activity",
    "DescribeActivity": "describe_activity",
    "ListActivities": "list_activities",
    "DeleteActivity": "delete_activity",
    "TagResource": "tag_resource",
    "UntagResource": "untag_resource",
    "ListTagsForResource": "list_tags_for_resource",
    "PublishStateMachineVersion": "publish_state_machine_version",
    "ListStateMachineVersions": "list_state_machine_versions",
    "DeleteStateMachineVersion": "delete_state_machine_version",
    "CreateStateMachineAlias": "create_state_machine_alias",
    "DescribeStateMachineAlias": "describe_state_machine_alias",
    "ListStateMachineAliases": "list_state_machine_aliases",
    "UpdateStateMachineAlias": "update_state_machine_alias",
    "DeleteStateMachineAlias": "delete_state_machine_alias",
    "RedriveExecution": "redrive_execution",
    "GetActivityTask": "get_activity_task",
    "SendTaskSuccess": "send_task_success",
    "SendTaskFailure": "send_task_failure",
    "SendTaskHeartbeat": "send_task_heartbeat",
    "DescribeMapRun": "describe_map_run",
    "ListMapRuns": "list_map_runs",
    "UpdateMapRun": "update_map_run",
}
"""API operation name -> Engine method name."""

Request = Mapping[str, Any]
Response = dict[str, Any]

_TYPES = ("STANDARD", "EXPRESS")
_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


def _merge(request: Request | None, fields: dict[str, Any]) -> dict[str, Any]:
    merged = dict(request or {})
    merged.update(fields)
    return merged


def _not_supported() -> ApiError:
    return ApiError(
        "StateMachineTypeNotSupported", "This operation is not supported by this type of state machine"
    )


def _invalid_definition(diagnostics: tuple[Diagnostic, ...], definition: str | None = None) -> ApiError:
    from legato.asl.validate import invalid_definition_message

    return ApiError("InvalidDefinition", invalid_definition_message(diagnostics, definition))


def _diagnostics(definition: str, type_: str) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) for a definition text."""
    from legato.asl.load import load_document
    from legato.asl.validate import validate

    try:
        doc = load_document(definition)
    except DefinitionError as exc:
        return list(exc.diagnostics)
    return validate(doc, state_machine_type=type_)


class Engine(VersioningOperations, ActivityTaskOperations, MapRunOperations):
    """Runs state machines and answers the Step Functions API operations.

    ``clock`` and ``ids`` are injected into every execution (a
    :class:`~legato.runtime.clock.VirtualClock` makes waits instant);
    ``functions`` maps Lambda function names to Python callables; ``store`` keeps
    the resources (in memory by default).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        ids: IdProvider | None = None,
        functions: FunctionRegistry | Mapping[str, Handler] | None = None,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        store: Store | None = None,
        integrations: IntegrationSettings | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.ids: IdProvider = ids or RandomIds()
        self.functions = functions if isinstance(functions, FunctionRegistry) else FunctionRegistry(functions)
        self.region = region
        self.account = account
        self.store: Store = store or MemoryStore()
        self.integrations = integrations or IntegrationSettings()
        """Settings of the service integrations (embedded providers' data, endpoints)."""
        self._services: Services | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.journal = _durable.EngineJournal(self.store, self.clock)
        """The journal of Standard executions (the store's, closed at shutdown)."""

    # -- plumbing

    @property
    def services(self) -> Services:
        """The runtime services every execution of this engine shares."""
        if self._services is None:
            from legato.runtime.services import Services

            self._services = Services(
                clock=self.clock,
                ids=self.ids,
                functions=self.functions,
                region=self.region,
                account=self.account,
                callbacks=task_tokens(self),
                integrations=self.integrations,
                engine=self,
            )
        return self._services

    async def call(self, operation: str, request: Request | None = None) -> Response:
        """Runs the API operation named ``operation`` (``"StartExecution"`` ...)."""
        method = OPERATIONS.get(operation)
        if method is None:
            raise ApiError("UnknownOperationException", f"Unknown operation: {operation}")
        result: Response = await getattr(self, method)(request or {})
        return result

    async def aclose(self) -> None:
        """Cancels the executions still running (the in-memory store loses them anyway)."""
        self.journal.close()  # an execution cut short stays RUNNING in a durable store
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        # Live integration objects (HTTP sessions, open providers) that can be closed.
        for resource in list(self.integrations.state.values()):
            close = getattr(resource, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        if self._services is not None:
            self._services.executor.shutdown(wait=False, cancel_futures=True)

    def _compile(self, definition: str, type_: str = "STANDARD") -> Machine:
        """Validates ``definition`` for a machine of ``type_`` and compiles it (cached by text)."""
        from legato.runtime.machine import compile_machine

        if type_ != "STANDARD":
            errors = tuple(d for d in _diagnostics(definition, type_) if d.severity == "ERROR")
            if errors:
                raise _invalid_definition(errors, definition)
        try:
            return compile_machine(definition)
        except DefinitionError as exc:
            raise _invalid_definition(exc.diagnostics, definition) from None

    def _now(self) -> float:
        return self.clock.time()

    def _sm_arn(self, arn: str) -> arns.Arn:
        return arns.expect_arn(arn, "stateMachine")

    async def _state_machine(self, arn: str) -> StateMachineRecord:
        parsed = self._sm_arn(arn)
        record = None if len(parsed.parts) != 1 else await self.store.get_state_machine(arn)
        if record is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return record

    async def _execution(self, arn: str, *, express_ok: bool = False) -> ExecutionRecord:
        child = _maprun_api.child_record(self, arn)
        if child is not None:  # a Standard child execution of a Map Run
            _h.absorb(child)
            return child
        if express_ok:
            arns.expect_arn(arn, "execution", "express")
        else:
            arns.expect_arn(arn, "execution")
        record = await self.store.get_execution(arn)
        if record is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        _h.absorb(record)
        return record

    # -- state machines

    async def create_state_machine(self, request: Request | None = None, /, **fields: Any) -> Response:
        """CreateStateMachine: validates the definition and registers the machine.

        Creating the same machine again (same name, definition, role, type and
        configurations) is idempotent and returns the existing one.
        """
        req = _merge(request, fields)
        name = rq.need_str(req, "name", max_len=None)
        arns.validate_name(name)
        definition = rq.need_str(req, "definition", max_len=DEFINITION_LIMIT)
        role_arn = self._role_arn(req)
        type_ = rq.get_enum(req, "type", _TYPES, "STANDARD")
        assert type_ is not None
        logging_cfg = _h.logging_configuration(req)
        tracing_cfg = _h.tracing_configuration(req)
        encryption_cfg = _h.encryption_configuration(req)
        publish, version_description = _versions.publish_options(req)
        tags = _h.tags(req)
        self._compile(definition, type_)
        arn = arns.state_machine_arn(self.region, self.account, name)
        existing = await self.store.get_state_machine(arn)
        if existing is not None:
            same = (
                existing.definition == definition
                and existing.role_arn == role_arn
                and existing.type == type_
                and existing.logging_configuration == logging_cfg
                and existing.tracing_configuration == tracing_cfg
            )
            if not same:
                raise ApiError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
            published = await self._published(existing, publish, version_description)
            return {"stateMachineArn": arn, "creationDate": existing.creation_date, **published}
        record = StateMachineRecord(
            arn=arn,
            name=name,
            definition=definition,
            role_arn=role_arn,
            type=type_,
            creation_date=self._now(),
            revision_id=self.ids.uuid(),
            logging_configuration=logging_cfg,
            tracing_configuration=tracing_cfg,
            encryption_configuration=encryption_cfg,
        )
        await self.store.put_state_machine(record)
        if tags:
            await self.store.set_tags(arn, tags)
        published = await self._published(record, publish, version_description)
        return {"stateMachineArn": arn, "creationDate": record.creation_date, **published}

    def _role_arn(self, req: Request) -> str:
        role = rq.get_str(req, "roleArn", min_len=1, max_len=256)
        if role is None:
            return f"arn:aws:iam::{self.account}:role/LegatoExecutionRole"
        if not role.startswith("arn:"):
            raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {role}'")
        return role

    async def describe_state_machine(self, request: Request | None = None, /, **fields: Any) -> Response:
        """DescribeStateMachine (of a state machine or of one of its versions)."""
        req = _merge(request, fields)
        sm_arn = rq.need_str(req, "stateMachineArn")
        if _versions.split_qualified(sm_arn)[2] is not None:
            return await _versions.describe_version(self, sm_arn)
        record = await self._state_machine(sm_arn)
        return {
            "stateMachineArn": record.arn,
            "name": record.name,
            "status": "ACTIVE",
            "definition": record.definition,
            "roleArn": record.role_arn,
            "type": record.type,
            "creationDate": record.creation_date,
            "loggingConfiguration": dict(record.logging_configuration),
            "tracingConfiguration": dict(record.tracing_configuration),
            "revisionId": record.revision_id,
            "encryptionConfiguration": dict(record.encryption_configuration),
        }

    async def describe_state_machine_for_execution(
        self, request: Request | None = None, /, **fields: Any
    ) -> Response:
        """DescribeStateMachineForExecution: the machine as it was when the execution started."""
        req = _merge(request, fields)
        ex = await self._execution(rq.need_str(req, "executionArn"))
        return {
            "stateMachineArn": ex.state_machine_arn,
            "name": ex.state_machine_name,
            "definition": ex.definition,
            "roleArn": ex.role_arn,
            "updateDate": ex.state_machine_update_date,
            "loggingConfiguration": dict(ex.logging_configuration),
            "tracingConfiguration": dict(ex.tracing_configuration),
            "revisionId": ex.revision_id,
            "encryptionConfiguration": dict(ex.encryption_configuration),
        }

    async def list_state_machines(self, request: Request | None = None, /, **fields: Any) -> Response:
        """ListStateMachines, paginated with ``maxResults`` / ``nextToken``."""
        req = _merge(request, fields)
        records = await self.store.list_state_machines()
        page, token = rq.paginate(req, records, "state-machines")
        out: Response = {
            "stateMachines": [
                {"stateMachineArn": r.arn, "name": r.name, "type": r.type, "creationDate": r.creation_date}
                for r in page
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    async def update_state_machine(self, request: Request | None = None, /, **fields: Any) -> Response:
        """UpdateStateMachine: a new definition, role or configuration; running executions keep theirs."""
        req = _merge(request, fields)
        record = await self._state_machine(rq.need_str(req, "stateMachineArn"))
        keys = (
            "definition",
            "roleArn",
            "loggingConfiguration",
            "tracingConfiguration",
            "encryptionConfiguration",
        )
        if all(req.get(k) is None for k in keys):
            raise ApiError(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, "
                "or the TracingConfiguration must be specified",
            )
        definition = rq.get_str(req, "definition", min_len=1, max_len=DEFINITION_LIMIT)
        role = self._role_arn(req) if req.get("roleArn") is not None else None
        logging_cfg = _h.logging_configuration(req) if req.get("loggingConfiguration") is not None else None
        tracing_cfg = _h.tracing_configuration(req) if req.get("tracingConfiguration") is not None else None
        encryption_cfg = (
            _h.encryption_configuration(req) if req.get("encryptionConfiguration") is not None else None
        )
        publish, version_description = _versions.publish_options(req)
        before = _versions.revision_content(record)
        if definition is not None:
            self._compile(definition, record.type)
            record.definition = definition
        if role is not None:
            record.role_arn = role
        if logging_cfg is not None:
            record.logging_configuration = logging_cfg
        if tracing_cfg is not None:
            record.tracing_configuration = tracing_cfg
        if encryption_cfg is not None:
            record.encryption_configuration = encryption_cfg
        record.update_date = self._now()
        if _versions.revision_content(record) != before:  # an unchanged machine keeps its revision
            record.revision_id = self.ids.uuid()
        await self.store.put_state_machine(record)
        published = await self._published(record, publish, version_description)
        return {"updateDate": record.update_date, "revisionId": record.revision_id, **published}

    async def delete_state_machine(self, request: Request | None = None, /, **fields: Any) -> Response:
        """DeleteStateMachine. Deleting a machine that does not exist succeeds, as on AWS;
        its executions keep running and stay describable."""
        req = _merge(request, fields)
        arn = rq.need_str(req, "stateMachineArn")
        self._sm_arn(arn)
        await self.store.delete_state_machine(arn)
        await _versions.forget_machine(self, arn)
        return {}

    # -- executions

    async def start_execution(self, request: Request | None = None, /, **fields: Any) -> Response:
        """StartExecution: starts the execution and returns at once.

        For a Standard machine, starting an execution whose name is taken is
        idempotent while that execution runs with the same input, and otherwise
        ``ExecutionAlreadyExists``. Express executions get a unique ARN each time.
        """
        req = _merge(request, fields)
        record = await self._start(req, sync=False)
        return {"executionArn": record.arn, "startDate": record.start_date}

    async def start_sync_execution(self, request: Request | None = None, /, **fields: Any) -> Response:
        """StartSyncExecution (Express machines only): runs the execution to its end."""
        req = _merge(request, fields)
        record = await self._start(req, sync=True)
        assert record.runtime is not None
        await record.runtime.wait()
        _h.absorb(record)
        out: Response = {
            "executionArn": record.arn,
            "stateMachineArn": record.state_machine_arn,
            "name": record.name,
            "startDate": record.start_date,
            "stopDate": record.stop_date,
            "status": record.status,
            "input": record.input_text,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True},
            "billingDetails": _h.billing(record),
        }
        if record.output_text is not None:
            out["output"] = record.output_text
        _h.add_error(out, record)
        if record.trace_header is not None:
            out["traceHeader"] = record.trace_header
        return out

    async def _start(self, req: Request, *, sync: bool) -> ExecutionRecord:
        sm_arn = rq.need_str(req, "stateMachineArn")
        # ARN#TestCase picks a test case of the mock configuration (Step Functions Local).
        sm_arn, test_case = _mocks.split_test_case(self.services, sm_arn)
        target = await _versions.resolve(self, sm_arn, pick=True)
        sm = target.runs()
        if sync and sm.type != "EXPRESS":
            raise _not_supported()
        input_text = rq.get_str(req, "input", max_len=_h.INPUT_LIMIT, sensitive=True)
        input_text = _h.check_input(input_text)
        name = rq.get_str(req, "name")
        if name is None:
            name = self.ids.uuid()
        else:
            arns.validate_name(name)
        trace_header = rq.get_str(req, "traceHeader", max_len=256)
        express = sm.type == "EXPRESS"
        arn = arns.execution_arn(sm.arn, name, self.ids.uuid() if express else None)
        if not express:
            existing = await self.store.get_execution(arn)
            if existing is not None:
                _h.absorb(existing)
                if existing.status == "RUNNING" and existing.input_text == input_text:
                    return existing
                raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        machine = self._compile(sm.definition)  # validated for its type when created
        from legato.runtime.execution import Execution, ExecutionInfo

        info = ExecutionInfo(
            execution_arn=arn,
            name=name,
            state_machine_arn=sm.arn,
            state_machine_name=sm.name,
            role_arn=sm.role_arn,
            type=sm.type,
        )
        # An Express execution's history is not kept: nothing can ask for it.
        ex = Execution(
            machine,
            info,
            input_text,
            self.services,
            journal=None if express else self.journal,
            keep_history=not express,
        )
        ex.context_state_machine["Id"] = target.arn
        record = ExecutionRecord(
            arn=arn,
            name=name,
            state_machine_arn=sm.arn,
            state_machine_name=sm.name,
            type=sm.type,
            input_text=input_text,
            start_date=ex.start_time,
            definition=sm.definition,
            role_arn=sm.role_arn,
            state_machine_update_date=sm.update_date or sm.creation_date,
            revision_id=sm.revision_id,
            logging_configuration=dict(sm.logging_configuration),
            tracing_configuration=dict(sm.tracing_configuration),
            encryption_configuration=dict(sm.encryption_configuration),
            trace_header=trace_header,
            runtime=ex,
            state_machine_version_arn=target.version_arn,
            state_machine_alias_arn=target.alias_arn,
        )
        if test_case is not None:
            try:
                _mocks.attach(self.services, arn, sm.name, test_case, execution=ex)
            except _mocks.MockConfigError as exc:
                raise ApiError("ValidationException", str(exc)) from None
        await self.store.put_execution(record)
        task = asyncio.create_task(self._drive(record, ex), name=f"legato-execution:{arn}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return record

    async def _drive(self, record: ExecutionRecord, ex: Execution) -> None:
        try:
            await ex.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a runtime bug must not leave the execution RUNNING forever
            log.exception("execution %s crashed", record.arn)
            if ex.status == "RUNNING":
                ex.error, ex.cause = (
                    "States.Runtime",
                    f"Internal error in Legato: {type(exc).__name__}: {exc}",
                )
                ex.event(
                    "ExecutionFailed",
                    ex.last_event_id,
                    "executionFailedEventDetails",
                    {"error": ex.error, "cause": ex.cause},
                )
                ex._finish("FAILED")
        finally:
            await _durable.finish(self, record)

    async def recover(self) -> int:
        """Resumes the Standard executions a durable store holds as RUNNING (at startup);
        returns how many."""
        return await _durable.recover(self)

    async def wait_for_execution(self, execution_arn: str, timeout: float | None = None) -> Response:
        """Waits until an execution ends and returns its DescribeExecution (not an AWS operation)."""
        described, _ = await self.wait_for_output(execution_arn, timeout)
        return described

    async def wait_for_output(self, execution_arn: str, timeout: float | None = None) -> tuple[Response, Any]:
        """:meth:`wait_for_execution`, and the output as a value when this engine ran the
        execution (``None`` otherwise): a parent reading it needs not parse its text."""
        record = await self._execution(execution_arn, express_ok=True)
        ex = record.runtime
        if ex is not None:
            await asyncio.wait_for(ex.wait(), timeout)
        _h.absorb(record)
        described = await self._execution_fields(_h.describe(record), record)
        output = (
            ex.output if ex is not None and ex.status == "SUCCEEDED" and ex.output_text is not None else None
        )
        return described, output

    async def stop_execution(self, request: Request | None = None, /, **fields: Any) -> Response:
        """StopExecution: aborts a running execution with an optional error and cause."""
        req = _merge(request, fields)
        arn = rq.need_str(req, "executionArn")
        error = rq.get_str(req, "error", max_len=256, sensitive=True)
        cause = rq.get_str(req, "cause", max_len=32768, sensitive=True)
        record = await self._execution(arn)
        ex = record.runtime
        if ex is not None and ex.status == "RUNNING":
            ex.stop(error, cause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(ex.wait()), 10)
            _h.absorb(record)
            await self.store.put_execution(record)
        return {"stopDate": record.stop_date if record.stop_date is not None else self._now()}

    async def describe_execution(self, request: Request | None = None, /, **fields: Any) -> Response:
        """DescribeExecution (Standard executions; Express ones have no record on AWS either)."""
        req = _merge(request, fields)
        record = await self._execution(rq.need_str(req, "executionArn"))
        out = await self._execution_fields(_h.describe(record), record)
        if record.map_run_arn is not None:
            out["mapRunArn"] = record.map_run_arn
        return out

    async def get_execution_history(self, request: Request | None = None, /, **fields: Any) -> Response:
        """GetExecutionHistory, paginated, optionally reversed or without payloads."""
        req = _merge(request, fields)
        record = await self._execution(rq.need_str(req, "executionArn"))
        reverse = rq.get_bool(req, "reverseOrder", False)
        include_data = rq.get_bool(req, "includeExecutionData", True)
        history = await _durable.history(self, record)
        events = list(reversed(history)) if reverse else list(history)
        page, token = rq.paginate(req, events, f"history:{record.arn}:{reverse}")
        page = [public_event(ev) for ev in page]
        if not include_data:
            page = [_h.without_data(ev) for ev in page]
        out: Response = {"events": page}
        if token:
            out["nextToken"] = token
        return out

    # -- definitions

    async def validate_state_machine_definition(
        self, request: Request | None = None, /, **fields: Any
    ) -> Response:
        """ValidateStateMachineDefinition: the diagnostics, never an error for a bad definition."""
        req = _merge(request, fields)
        definition = rq.need_str(req, "definition", max_len=DEFINITION_LIMIT)
        type_ = rq.get_enum(req, "type", _TYPES, "STANDARD")
        assert type_ is not None
        severity = rq.get_enum(req, "severity", ("ERROR", "WARNING"), "ERROR")
        limit = rq.get_max_results(req)
        diagnostics = tuple(_diagnostics(definition, type_))
        if severity == "ERROR":
            diagnostics = tuple(d for d in diagnostics if d.severity == "ERROR")
        shown = diagnostics[:limit]
        items = []
        for d in shown:
            item = {"severity": d.severity, "code": d.code, "message": d.message}
            if d.location:
                item["location"] = d.location
            items.append(item)
        failed = any(d.severity == "ERROR" for d in diagnostics)
        return {
            "result": "FAIL" if failed else "OK",
            "diagnostics": items,
            "truncated": len(diagnostics) > limit,
        }

    async def test_state(self, request: Request | None = None, /, **fields: Any) -> Response:
        """TestState: runs one state in isolation (``legato.runtime.teststate``)."""
        req = _merge(request, fields)
        try:
            module = importlib.import_module("legato.runtime.teststate")
        except ImportError:
            raise ApiError(
                "NotImplemented", "TestState is not available yet in this Legato build", status=501
            )
        result = module.test_state(req, self.services)
        if inspect.isawaitable(result):
            result = await result
        return dict(result)

    # -- activities

    async def create_activity(self, request: Request | None = None, /, **fields: Any) -> Response:
        """CreateActivity (idempotent by name)."""
        req = _merge(request, fields)
        name = rq.need_str(req, "name", max_len=None)
        arns.validate_name(name)
        tags = _h.tags(req)
        encryption_cfg = _h.encryption_configuration(req)
        arn = arns.activity_arn(self.region, self.account, name)
        existing = await self.store.get_activity(arn)
        if existing is not None:
            return {"activityArn": arn, "creationDate": existing.creation_date}
        record = ActivityRecord(arn, name, self._now(), encryption_cfg)
        await self.store.put_activity(record)
        if tags:
            await self.store.set_tags(arn, tags)
        return {"activityArn": arn, "creationDate": record.creation_date}

    async def describe_activity(self, request: Request | None = None, /, **fields: Any) -> Response:
        """DescribeActivity."""
        req = _merge(request, fields)
        arn = rq.need_str(req, "activityArn")
        arns.expect_arn(arn, "activity")
        record = await self.store.get_activity(arn)
        if record is None:
            raise ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return {
            "activityArn": record.arn,
            "name": record.name,
            "creationDate": record.creation_date,
            "encryptionConfiguration": dict(record.encryption_configuration),
        }

    async def list_activities(self, request: Request | None = None, /, **fields: Any) -> Response:
        """ListActivities, paginated."""
        req = _merge(request, fields)
        page, token = rq.paginate(req, await self.store.list_activities(), "activities")
        out: Response = {
            "activities": [
                {"activityArn": r.arn, "name": r.name, "creationDate": r.creation_date} for r in page
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    async def delete_activity(self, request: Request | None = None, /, **fields: Any) -> Response:
        """DeleteActivity (succeeds for an activity that does not exist)."""
        req = _merge(request, fields)
        arn = rq.need_str(req, "activityArn")
        arns.expect_arn(arn, "activity")
        await self.store.delete_activity(arn)
        return {}

    # -- tags

    async def _tagged(self, arn: str) -> str:
        parsed = arns.expect_arn(arn, "stateMachine", "activity")
        found: object = None
        if parsed.resource_type == "activity":
            found = await self.store.get_activity(arn)
        elif len(parsed.parts) == 1:
            found = await self.store.get_state_machine(arn)
        if found is None:
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        return arn

    async def tag_resource(self, request: Request | None = None, /, **fields: Any) -> Response:
        """TagResource: adds or overwrites tags of a state machine or an activity."""
        req = _merge(request, fields)
        arn = await self._tagged(rq.need_str(req, "resourceArn"))
        new = _h.tags(req, required=True)
        tags = await self.store.get_tags(arn)
        tags.update(new)
        if len(tags) > TAG_LIMIT:
            raise ApiError("TooManyTags", f"Too many tags on resource: '{arn}' (at most {TAG_LIMIT})")
        await self.store.set_tags(arn, tags)
        return {}

    async def untag_resource(self, request: Request | None = None, /, **fields: Any) -> Response:
        """UntagResource: removes tags by key."""
        req = _merge(request, fields)
        arn = await self._tagged(rq.need_str(req, "resourceArn"))
        keys = rq.get_list(req, "tagKeys")
        if keys is None:
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: "
                "Member must not be null",
            )
        tags = await self.store.get_tags(arn)
        for key in keys:
            tags.pop(str(key), None)
        await self.store.set_tags(arn, tags)
        return {}

    async def list_tags_for_resource(self, request: Request | None = None, /, **fields: Any) -> Response:
        """ListTagsForResource."""
        req = _merge(request, fields)
        arn = await self._tagged(rq.need_str(req, "resourceArn"))
        tags = await self.store.get_tags(arn)
        return {"tags": [{"key": k, "value": v} for k, v in tags.items()]}
