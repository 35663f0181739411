"""What the engine keeps about state machines, executions and activities, and the
:class:`Store` interface behind which it keeps them.

The in-memory store (:mod:`legato.store.memory`) is the first implementation; a
durable SQLite store replaces it behind the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


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


@dataclass(slots=True)
class ActivityRecord:
    """An activity created with CreateActivity."""

    arn: str
    name: str
    creation_date: float
    encryption_configuration: dict[str, Any]


class Store(Protocol):
    """Where the engine keeps its resources. Lists come back in creation order."""

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
