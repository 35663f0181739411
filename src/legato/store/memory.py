"""The in-memory :class:`~legato.store.records.Store`: dicts, gone when the process ends."""

from __future__ import annotations

from typing import Any

from legato.store._express import ExpressArchive
from legato.store.records import (
    ActivityRecord,
    ExecutionRecord,
    MapRunRecord,
    StateMachineAliasRecord,
    StateMachineRecord,
    StateMachineVersionRecord,
)


class MemoryStore:
    """Keeps every resource in dicts (insertion order is creation order)."""

    def __init__(self) -> None:
        self._state_machines: dict[str, StateMachineRecord] = {}
        self._executions: dict[str, ExecutionRecord] = {}
        self._by_machine: dict[str, dict[str, ExecutionRecord]] = {}
        self._activities: dict[str, ActivityRecord] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._versions: dict[str, StateMachineVersionRecord] = {}
        self._aliases: dict[str, StateMachineAliasRecord] = {}
        self._events: dict[str, dict[int, dict[str, Any]]] = {}
        self._map_runs: dict[str, MapRunRecord] = {}
        self._by_map_run: dict[str, dict[str, ExecutionRecord]] = {}
        self._express_done = ExpressArchive()

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
        """Inserts or replaces an execution. A finished Express execution joins the
        most recent ones kept (see :mod:`legato.store._express`)."""
        if record.type == "EXPRESS" and record.status != "RUNNING":
            self._executions.pop(record.arn, None)
            self._by_machine.get(record.state_machine_arn, {}).pop(record.arn, None)
            self._express_done.keep(record)
            return
        self._executions[record.arn] = record
        self._by_machine.setdefault(record.state_machine_arn, {})[record.arn] = record
        if record.map_run_arn is not None:
            self._by_map_run.setdefault(record.map_run_arn, {})[record.arn] = record

    async def get_execution(self, arn: str) -> ExecutionRecord | None:
        """The execution with this ARN, or ``None``."""
        return self._executions.get(arn) or self._express_done.get(arn)

    async def list_executions(self, state_machine_arn: str) -> list[ExecutionRecord]:
        """The executions of one state machine."""
        return list(self._by_machine.get(state_machine_arn, {}).values())

    async def list_map_run_children(self, map_run_arn: str) -> list[ExecutionRecord]:
        """The child executions a Map Run started, oldest first."""
        return list(self._by_map_run.get(map_run_arn, {}).values())

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

    def append(self, execution_arn: str, event: dict[str, Any]) -> None:
        """Keeps one history event (a later event with the same id replaces it)."""
        self._events.setdefault(execution_arn, {})[event["id"]] = event

    async def flush(self) -> None:
        """Nothing to wait for: memory is as durable as this store gets."""
        return None

    async def events(self, execution_arn: str) -> list[dict[str, Any]]:
        """The events appended for an execution, by id."""
        kept = self._events.get(execution_arn, {})
        return [kept[i] for i in sorted(kept)]

    async def running_executions(self) -> list[ExecutionRecord]:
        """Every execution whose status is ``RUNNING``."""
        return [r for r in self._executions.values() if r.status == "RUNNING"]

    async def aclose(self) -> None:
        """Nothing to release."""
        return None

    async def put_version(self, record: StateMachineVersionRecord) -> None:
        """Inserts a state machine version."""
        self._versions[record.arn] = record

    async def get_version(self, arn: str) -> StateMachineVersionRecord | None:
        """The version with this ARN, or ``None``."""
        return self._versions.get(arn)

    async def list_versions(self, state_machine_arn: str) -> list[StateMachineVersionRecord]:
        """The versions of one state machine, oldest first."""
        return [v for v in self._versions.values() if v.state_machine_arn == state_machine_arn]

    async def delete_version(self, arn: str) -> None:
        """Removes a version (nothing happens when it does not exist)."""
        self._versions.pop(arn, None)

    async def put_alias(self, record: StateMachineAliasRecord) -> None:
        """Inserts or replaces an alias."""
        self._aliases[record.arn] = record

    async def get_alias(self, arn: str) -> StateMachineAliasRecord | None:
        """The alias with this ARN, or ``None``."""
        return self._aliases.get(arn)

    async def list_aliases(self, state_machine_arn: str) -> list[StateMachineAliasRecord]:
        """The aliases of one state machine, oldest first."""
        return [a for a in self._aliases.values() if a.state_machine_arn == state_machine_arn]

    async def delete_alias(self, arn: str) -> None:
        """Removes an alias (nothing happens when it does not exist)."""
        self._aliases.pop(arn, None)

    async def put_map_run(self, record: MapRunRecord) -> None:
        """Inserts or replaces a Map Run."""
        self._map_runs[record.arn] = record

    async def get_map_run(self, arn: str) -> MapRunRecord | None:
        """The Map Run with this ARN, or ``None``."""
        return self._map_runs.get(arn)

    async def list_map_runs(self, execution_arn: str) -> list[MapRunRecord]:
        """The Map Runs an execution started, oldest first."""
        return [r for r in self._map_runs.values() if r.execution_arn == execution_arn]
