"""What the engine keeps about state machines, executions and activities, and the
:class:`Store` interface behind which it keeps them.

The in-memory store (:mod:`legato.store.memory`) is the first implementation; a
durable SQLite store replaces it behind the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from legato.errors import ApiError


@dataclass(slots=True)
class StateMachineRecord:
    """A state machine as CreateStateMachine / UpdateStateMachine left it."""

    arn: str
    name: str
    definition: str
    """The definition text exactly as the caller sent it."""
    role_arn: str
    type: str
    creation_date: float
    revision_id: str
    logging_configuration: dict[str, Any]
    tracing_configuration: dict[str, Any]
    encryption_configuration: dict[str, Any]
    update_date: float | None = None
    description: str | None = None
    last_version: int = 0
    """The number of the newest version ever published (numbers are never reused)."""


@dataclass(slots=True)
class StateMachineVersionRecord:
    """An immutable snapshot of a state machine (PublishStateMachineVersion).

    ``arn`` is the version ARN, ``STATE_MACHINE_ARN:NUMBER``.
    """

    arn: str
    state_machine_arn: str
    number: int
    name: str
    definition: str
    role_arn: str
    type: str
    creation_date: float
    revision_id: str
    logging_configuration: dict[str, Any]
    tracing_configuration: dict[str, Any]
    encryption_configuration: dict[str, Any]
    description: str | None = None


@dataclass(slots=True)
class StateMachineAliasRecord:
    """An alias routing executions to one or two versions (CreateStateMachineAlias).

    ``arn`` is the alias ARN, ``STATE_MACHINE_ARN:ALIAS_NAME``; ``routing`` holds
    ``{"stateMachineVersionArn": ..., "weight": ...}`` items in request order.
    """

    arn: str
    state_machine_arn: str
    name: str
    routing: list[dict[str, Any]]
    creation_date: float
    description: str | None = None
    update_date: float | None = None


@dataclass(slots=True)
class ExecutionRecord:
    """One execution: what it was started with, and how it ended once it has.

    ``runtime`` holds the live :class:`legato.runtime.execution.Execution` while the
    engine runs it (the in-memory store keeps it afterwards too); the plain fields
    are what a durable store persists.
    """

    arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    type: str
    input_text: str
    start_date: float
    definition: str
    """The definition this execution runs (DescribeStateMachineForExecution)."""
    role_arn: str
    state_machine_update_date: float
    revision_id: str
    logging_configuration: dict[str, Any]
    tracing_configuration: dict[str, Any]
    encryption_configuration: dict[str, Any]
    trace_header: str | None = None
    status: str = "RUNNING"
    stop_date: float | None = None
    output_text: str | None = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    runtime: Any = None
    state_machine_version_arn: str | None = None
    """The version the execution runs, when started with a version or alias ARN."""
    state_machine_alias_arn: str | None = None
    """The alias the execution was started with, if any."""
    redrive_count: int = 0
    redrive_date: float | None = None
    map_run_arn: str | None = None
    """The Map Run that started this execution (a Distributed Map's Standard child)."""
    item_count: int | None = None
    """How many items a Map Run child processes (ListExecutions' ``itemCount``)."""


@dataclass(slots=True)
class ActivityRecord:
    """An activity created with CreateActivity."""

    arn: str
    name: str
    creation_date: float
    encryption_configuration: dict[str, Any]


@dataclass(slots=True)
class MapRunRecord:
    """A Distributed Map's Map Run, as DescribeMapRun shows it.

    ``item_counts`` and ``execution_counts`` hold the MapRunItemCounts and
    MapRunExecutionCounts fields (``pending``, ``running``, ``succeeded``, ``failed``,
    ``timedOut``, ``aborted``, ``total``, ``resultsWritten``).
    """

    arn: str
    execution_arn: str
    state_machine_arn: str
    status: str
    start_date: float
    max_concurrency: int
    tolerated_failure_percentage: float
    tolerated_failure_count: int
    item_counts: dict[str, int]
    execution_counts: dict[str, int]
    stop_date: float | None = None
    redrive_count: int = 0
    redrive_date: float | None = None


class StoreUnavailable(ApiError):
    """The store could not write (its database is locked by another process, or its
    disk is full). Nothing of the failed write was kept; what was committed before stays.

    It is an :class:`~legato.errors.ApiError` (``ServiceUnavailable``, HTTP 503), so an
    API call that hits it gets a clear error instead of a traceback.
    """

    def __init__(self, message: str) -> None:
        super().__init__("ServiceUnavailable", message, status=503)


class Store(Protocol):
    """Where the engine keeps its resources. Lists come back in creation order.

    A store is also the journal of Standard executions
    (:class:`legato.runtime.journal.Journal`): ``append`` queues a history event,
    ``flush`` returns once everything appended so far is durable.
    """

    async def put_state_machine(self, record: StateMachineRecord) -> None:
        """Inserts or replaces a state machine."""
        ...

    async def get_state_machine(self, arn: str) -> StateMachineRecord | None:
        """The state machine with this ARN, or ``None``."""
        ...

    async def delete_state_machine(self, arn: str) -> None:
        """Removes a state machine (its executions stay)."""
        ...

    async def list_state_machines(self) -> list[StateMachineRecord]:
        """Every state machine."""
        ...

    async def put_execution(self, record: ExecutionRecord) -> None:
        """Inserts or replaces an execution."""
        ...

    async def get_execution(self, arn: str) -> ExecutionRecord | None:
        """The execution with this ARN, or ``None``."""
        ...

    async def list_executions(self, state_machine_arn: str) -> list[ExecutionRecord]:
        """The executions of one state machine."""
        ...

    async def list_map_run_children(self, map_run_arn: str) -> list[ExecutionRecord]:
        """The child executions a Map Run started (``map_run_arn``), oldest first."""
        ...

    async def put_activity(self, record: ActivityRecord) -> None:
        """Inserts or replaces an activity."""
        ...

    async def get_activity(self, arn: str) -> ActivityRecord | None:
        """The activity with this ARN, or ``None``."""
        ...

    async def delete_activity(self, arn: str) -> None:
        """Removes an activity."""
        ...

    async def list_activities(self) -> list[ActivityRecord]:
        """Every activity."""
        ...

    async def get_tags(self, arn: str) -> dict[str, str]:
        """The tags of a resource (empty when it has none)."""
        ...

    async def set_tags(self, arn: str, tags: dict[str, str]) -> None:
        """Replaces the tags of a resource; an empty mapping removes them."""
        ...

    # Versions and aliases (keyed by their ARNs; listed per state machine).

    async def put_version(self, record: StateMachineVersionRecord) -> None:
        """Inserts a state machine version."""
        ...

    async def get_version(self, arn: str) -> StateMachineVersionRecord | None:
        """The version with this ARN, or ``None``."""
        ...

    async def list_versions(self, state_machine_arn: str) -> list[StateMachineVersionRecord]:
        """The versions of one state machine, oldest first."""
        ...

    async def delete_version(self, arn: str) -> None:
        """Removes a version (nothing happens when it does not exist)."""
        ...

    async def put_alias(self, record: StateMachineAliasRecord) -> None:
        """Inserts or replaces an alias."""
        ...

    async def get_alias(self, arn: str) -> StateMachineAliasRecord | None:
        """The alias with this ARN, or ``None``."""
        ...

    async def list_aliases(self, state_machine_arn: str) -> list[StateMachineAliasRecord]:
        """The aliases of one state machine, oldest first."""
        ...

    async def delete_alias(self, arn: str) -> None:
        """Removes an alias (nothing happens when it does not exist)."""
        ...

    async def put_map_run(self, record: MapRunRecord) -> None:
        """Inserts or replaces a Map Run."""
        ...

    async def get_map_run(self, arn: str) -> MapRunRecord | None:
        """The Map Run with this ARN, or ``None``."""
        ...

    async def list_map_runs(self, execution_arn: str) -> list[MapRunRecord]:
        """The Map Runs an execution started, oldest first."""
        ...

    def append(self, execution_arn: str, event: dict[str, Any]) -> None:
        """Queues one history event (keyed by the execution and the event's ``id``,
        internal ``_`` keys included) for durable storage; does not block."""
        ...

    async def flush(self) -> None:
        """Returns once every event appended so far is durable; raises
        :class:`StoreUnavailable` when it cannot be written."""
        ...

    async def events(self, execution_arn: str) -> list[dict[str, Any]]:
        """The stored history events of an execution, by id."""
        ...

    async def running_executions(self) -> list[ExecutionRecord]:
        """Every execution whose stored status is ``RUNNING`` (to resume at startup)."""
        ...

    async def aclose(self) -> None:
        """Writes what is queued and releases the store's resources."""
        ...
