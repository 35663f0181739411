"""Map Run children on Dask workers that start nested executions, and those that cannot go.

A child's item processor may start other executions (``states:startExecution``, any
pattern). Such a child still runs on a Dask worker: the worker gives its chunk an
:class:`~legato.engine.Engine` of its own (in memory) holding a copy of the state machines
the processor can start, with their versions and aliases, found by following the
``StateMachineArn`` of every ``startExecution`` Task (every machine when one is computed).
The nested executions run there, in the worker, reaching the same embedded providers
(the data folder), connections and HTTP APIs as the children; the chunk waits until all
of them have ended, those started without ``.sync`` too. Their Standard executions come
back with the chunk and the engine records them (history first, then the record), so
ListExecutions, DescribeExecution and GetExecutionHistory show them as if the engine had
run them; Express ones are not kept, as on AWS.

Some children need the engine itself and run in its process instead, with a warning
logged once per Map state: a Task on an activity, a ``.waitForTaskToken`` Task (the token
is answered through the engine's API) or an ``aws-sdk:sfn`` call, in the item processor or
in a machine it can start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from legato import _json

if TYPE_CHECKING:
    from legato.engine import Engine
    from legato.store.records import (
        ExecutionRecord,
        StateMachineAliasRecord,
        StateMachineRecord,
        StateMachineVersionRecord,
        Store,
    )

__all__ = ["Catalogue", "Placement", "adopt", "ended_executions", "load_catalogue", "placement"]

log = logging.getLogger("legato.maprun")

_START = "arn:aws:states:::states:startExecution"
_SFN_SDK = "arn:aws:states:::aws-sdk:sfn:"


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The state machines a worker's engine holds: records, versions and aliases."""

    machines: tuple[StateMachineRecord, ...]
    versions: tuple[StateMachineVersionRecord, ...]
    aliases: tuple[StateMachineAliasRecord, ...]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the children of one item processor can run."""

    engine_bound: str | None = None
    """Why they must run in the engine's process (None: they can go to a worker)."""
    catalogue: Catalogue | None = None
    """The machines they can start (None: they start none)."""


@dataclass(slots=True)
class _Scan:
    """What one definition's Tasks need."""

    engine_bound: str | None = None
    targets: set[str] = dataclasses.field(default_factory=set)
    any_target: bool = False

    @property
    def starts(self) -> bool:
        return self.any_target or bool(self.targets)


_SCANS: dict[str, _Scan] = {}
_PROCESSORS: dict[int, tuple[Any, _Scan]] = {}


def _scan_states(doc: Any, scan: _Scan, where: str) -> None:
    states = doc.get("States") if isinstance(doc, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        kind = state.get("Type")
        if kind == "Task":
            _scan_task(name, state, scan, where)
        elif kind == "Parallel":
            for branch in state.get("Branches") or ():
                _scan_states(branch, scan, where)
        elif kind == "Map":
            _scan_states(state.get("ItemProcessor") or state.get("Iterator"), scan, where)
        if scan.engine_bound is not None:
            return


def _scan_task(name: str, state: dict[str, Any], scan: _Scan, where: str) -> None:
    resource = state.get("Resource")
    if not isinstance(resource, str):
        return
    if resource.startswith("arn:aws:states:") and ":activity:" in resource:
        scan.engine_bound = f"the state {name!r}{where} runs an activity"
    elif resource.endswith(".waitForTaskToken"):
        scan.engine_bound = f"the state {name!r}{where} waits for a task token"
    elif resource.startswith(_SFN_SDK):
        scan.engine_bound = f"the state {name!r}{where} calls the Step Functions API ({resource})"
    elif resource.startswith(_START):
        args = state.get("Arguments", state.get("Parameters"))
        target = args.get("StateMachineArn") if isinstance(args, dict) else None
        if isinstance(target, str) and not target.startswith("{%"):
            scan.targets.add(target)
        else:  # computed (StateMachineArn.$ or JSONata): any machine
            scan.any_target = True


def _scanned(doc: Any, where: str = "") -> _Scan:
    scan = _Scan()
    _scan_states(doc, scan, where)
    return scan


def _scanned_definition(text: str, name: str) -> _Scan:
    """The scan of a stored definition, cached by its text."""
    key = f"{name}\n{text}"
    scan = _SCANS.get(key)
    if scan is None:
        try:
            doc = _json.loads(text)
        except ValueError:
            doc = None
        scan = _scanned(doc, f" of {name}")
        if len(_SCANS) > 256:
            _SCANS.clear()
        _SCANS[key] = scan
    return scan


async def placement(processor: Any, engine: Engine | None) -> Placement:
    """Where the children of ``processor`` (an ItemProcessor document) can run, and the
    machines a worker needs to run them: those their ``startExecution`` Tasks name,
    followed through those machines' own definitions (and versions)."""
    from legato._versions import split_qualified
    from legato.errors import ApiError

    hit = _PROCESSORS.get(id(processor))
    if hit is not None and hit[0] is processor:
        first = hit[1]
    else:
        first = _scanned(processor)
        if len(_PROCESSORS) > 256:
            _PROCESSORS.clear()
        _PROCESSORS[id(processor)] = (processor, first)
    if first.engine_bound is not None:
        return Placement(first.engine_bound)
    if not first.starts or engine is None:
        return Placement()
    store = engine.store
    machines: dict[str, StateMachineRecord] = {}
    versions: list[StateMachineVersionRecord] = []
    aliases: list[StateMachineAliasRecord] = []
    every = first.any_target
    todo = list(first.targets)
    if every:
        todo = [m.arn for m in await store.list_state_machines()]
    while todo:
        try:
            base = split_qualified(todo.pop())[1]
        except ApiError:
            continue  # not a state machine ARN: the Task fails there as it would here
        if base in machines:
            continue
        record = await store.get_state_machine(base)
        if record is None:
            continue  # StateMachineDoesNotExist, on the worker as here
        machines[base] = record
        own = await store.list_versions(base)
        versions.extend(own)
        aliases.extend(await store.list_aliases(base))
        for text, name in [(record.definition, record.name), *((v.definition, v.name) for v in own)]:
            scan = _scanned_definition(text, name)
            if scan.engine_bound is not None:
                return Placement(scan.engine_bound)
            if scan.any_target and not every:
                every = True
                todo.extend(m.arn for m in await store.list_state_machines())
            todo.extend(scan.targets)
    return Placement(None, Catalogue(tuple(machines.values()), tuple(versions), tuple(aliases)))


async def load_catalogue(store: Store, catalogue: Catalogue) -> None:
    """Puts the catalogue's machines, versions and aliases into a (worker's) store."""
    for machine in catalogue.machines:
        await store.put_state_machine(machine)
    for version in catalogue.versions:
        await store.put_version(version)
    for alias in catalogue.aliases:
        await store.put_alias(alias)


async def ended_executions(engine: Engine, catalogue: Catalogue) -> list[ExecutionRecord]:
    """Waits until every execution of a worker's engine has ended; returns its Standard
    ones as plain records (history included, no live runtime), ready to pickle."""
    from legato._engine_helpers import absorb

    arns = [m.arn for m in catalogue.machines] + [v.arn for v in catalogue.versions]
    while True:
        records = [r for arn in arns for r in await engine.store.list_executions(arn)]
        running = [r.runtime for r in records if r.runtime is not None and r.runtime.status == "RUNNING"]
        if not running:
            break
        await asyncio.gather(*(ex.wait() for ex in running))  # they may start more: look again
    out = []
    for record in records:
        absorb(record)
        if record.type == "STANDARD":
            out.append(dataclasses.replace(record, runtime=None, history=list(record.history)))
    return out


async def adopt(engine: Engine, records: list[ExecutionRecord]) -> None:
    """Records executions a worker ran as the engine's own: history first, then the record.
    An ARN the engine already has keeps what the engine has (a name reused on a worker)."""
    for record in records:
        if await engine.store.get_execution(record.arn) is not None:
            log.warning(
                "execution %s ran on a Dask worker but its name is taken here: not recorded", record.arn
            )
            continue
        for event in record.history:
            engine.journal.append(record.arn, event)
        await engine.journal.flush()
        if engine.journal.closed:
            return  # the engine is shutting down
        await engine.store.put_execution(record)
