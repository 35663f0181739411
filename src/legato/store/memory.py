"""The in-memory :class:`~legato.store.records.Store`: dicts, gone when the process ends."""

from __future__ import annotations

from legato.store.records import ActivityRecord, ExecutionRecord, StateMachineRecord


class MemoryStore:
    """Keeps every resource in dicts (insertion order is creation order)."""

    def __init__(self) -> None:
        self._state_machines: dict[str, StateMachineRecord] = {}
        self._executions: dict[str, ExecutionRecord] = {}
        self._by_machine: dict[str, dict[str, ExecutionRecord]] = {}
        self._activities: dict[str, ActivityRecord] = {}
        self._tags: dict[str, dict[str, str]] = {}

    async def put_state_machine(self, record: StateMachineRecord) -> None:
        """Inserts or replaces a state machine."""
        self._state_machines[record.arn] = record

    async def get_state_machine(self, arn: str) -> StateMachineRecord | None:
        """The state machine with this ARN, or ``None``."""
        return self._state_machines.get(arn)

    async def delete_state_machine(self, arn: str) -> None:
        """Removes a state machine (its executions stay)."""
        self._state_machines.pop(arn, None)
        self._tags.pop(arn, None)

    async def list_state_machines(self) -> list[StateMachineRecord]:
        """Every state machine."""
        return list(self._state_machines.values())

    async def put_execution(self, record: ExecutionRecord) -> None:
        """Inserts or replaces an execution."""
        self._executions[record.arn] = record
        self._by_machine.setdefault(record.state_machine_arn, {})[record.arn] = record

    async def get_execution(self, arn: str) -> ExecutionRecord | None:
        """The execution with this ARN, or ``None``."""
        return self._executions.get(arn)

    async def list_executions(self, state_machine_arn: str) -> list[ExecutionRecord]:
        """The executions of one state machine."""
        return list(self._by_machine.get(state_machine_arn, {}).values())

    async def put_activity(self, record: ActivityRecord) -> None:
        """Inserts or replaces an activity."""
        self._activities[record.arn] = record

    async def get_activity(self, arn: str) -> ActivityRecord | None:
        """The activity with this ARN, or ``None``."""
        return self._activities.get(arn)

    async def delete_activity(self, arn: str) -> None:
        """Removes an activity."""
        self._activities.pop(arn, None)
        self._tags.pop(arn, None)

    async def list_activities(self) -> list[ActivityRecord]:
        """Every activity."""
        return list(self._activities.values())

    async def get_tags(self, arn: str) -> dict[str, str]:
        """The tags of a resource (empty when it has none)."""
        return dict(self._tags.get(arn, {}))

    async def set_tags(self, arn: str, tags: dict[str, str]) -> None:
        """Replaces the tags of a resource; an empty mapping removes them."""
        if tags:
            self._tags[arn] = dict(tags)
        else:
            self._tags.pop(arn, None)
