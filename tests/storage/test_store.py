"""The Store contract, on every backend: records, tags, the journal, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from _backends import Backend

from legato.store.records import (
    ActivityRecord,
    ExecutionRecord,
    StateMachineAliasRecord,
    StateMachineRecord,
    StateMachineVersionRecord,
)

T = TypeVar("T")
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
EX = "arn:aws:states:us-east-1:123456789012:execution:"
DEFINITION = '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}'


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def machine(name: str, definition: str = DEFINITION, **fields: Any) -> StateMachineRecord:
    return StateMachineRecord(
        arn=SM + name,
        name=name,
        definition=definition,
        role_arn="arn:aws:iam::123456789012:role/r",
        type="STANDARD",
        creation_date=1700000000.5,
        revision_id=f"rev-{name}",
        logging_configuration={"level": "OFF", "includeExecutionData": False},
        tracing_configuration={"enabled": False},
        encryption_configuration={"type": "AWS_OWNED_KEY"},
        **fields,
    )


def execution(machine_name: str, name: str, **fields: Any) -> ExecutionRecord:
    return ExecutionRecord(
        arn=f"{EX}{machine_name}:{name}",
        name=name,
        state_machine_arn=SM + machine_name,
        state_machine_name=machine_name,
        type="STANDARD",
        input_text='{"x": 1}',
        start_date=1700000001.25,
        definition=DEFINITION,
        role_arn="arn:aws:iam::123456789012:role/r",
        state_machine_update_date=1700000000.5,
        revision_id="rev",
        logging_configuration={"level": "OFF"},
        tracing_configuration={"enabled": False},
        encryption_configuration={"type": "AWS_OWNED_KEY"},
        **fields,
    )


def event(eid: int, type_: str = "PassStateEntered", **extra: Any) -> dict[str, Any]:
    return {"timestamp": 1700000002.0 + eid, "type": type_, "id": eid, "previousEventId": eid - 1, **extra}


def test_state_machines(backend: Backend) -> None:
    async def go() -> None:
        store = backend.open()
        await store.put_state_machine(machine("a"))
        await store.put_state_machine(machine("b", description="second"))
        assert await store.get_state_machine(SM + "a") == machine("a")
        assert await store.get_state_machine(SM + "nope") is None
        updated = machine("a", definition='{"StartAt":"B"}', update_date=1700000009.0, last_version=2)
        await store.put_state_machine(updated)
        assert await store.get_state_machine(SM + "a") == updated
        assert [r.name for r in await store.list_state_machines()] == ["a", "b"]  # an update keeps order
        await store.set_tags(SM + "a", {"k": "v"})
        await store.delete_state_machine(SM + "a")
        assert await store.get_state_machine(SM + "a") is None
        assert await store.get_tags(SM + "a") == {}
        assert [r.name for r in await store.list_state_machines()] == ["b"]
        await store.delete_state_machine(SM + "a")  # deleting twice is fine

    run(go())


def test_executions(backend: Backend) -> None:
    async def go() -> None:
        store = backend.open()
        first = execution("m", "one", trace_header="Root=1")
        second = execution(
            "m", "two", state_machine_version_arn=SM + "m:1", state_machine_alias_arn=SM + "m:prod"
        )
        other = execution("n", "three")
        for record in (first, second, other):
            await store.put_execution(record)
        got = await store.get_execution(first.arn)
        assert got is not None and got.status == "RUNNING" and got.trace_header == "Root=1"
        assert got.input_text == '{"x": 1}' and got.definition == DEFINITION
        assert [r.name for r in await store.list_executions(SM + "m")] == ["one", "two"]
        assert [r.name for r in await store.running_executions()] == ["one", "two", "three"]
        second.status, second.stop_date, second.error, second.cause = "FAILED", 1700000005.0, "E", "C"
        second.redrive_count, second.redrive_date = 1, 1700000006.0
        await store.put_execution(second)
        got = await store.get_execution(second.arn)
        assert got is not None
        assert (got.status, got.stop_date, got.error, got.cause) == ("FAILED", 1700000005.0, "E", "C")
        assert (got.redrive_count, got.redrive_date) == (1, 1700000006.0)
        assert (got.state_machine_version_arn, got.state_machine_alias_arn) == (SM + "m:1", SM + "m:prod")
        first.status, first.output_text, first.stop_date = "SUCCEEDED", '{"ok":true}', 1700000007.0
        await store.put_execution(first)
        assert [r.name for r in await store.running_executions()] == ["three"]
        got = await store.get_execution(first.arn)
        assert got is not None and got.output_text == '{"ok":true}'
        assert await store.get_execution(EX + "m:missing") is None

    run(go())


def test_activities_and_tags(backend: Backend) -> None:
    async def go() -> None:
        store = backend.open()
        arn = "arn:aws:states:us-east-1:123456789012:activity:"
        a = ActivityRecord(arn + "a", "a", 1700000000.0, {"type": "AWS_OWNED_KEY"})
        b = ActivityRecord(arn + "b", "b", 1700000001.0, {"type": "AWS_OWNED_KEY"})
        await store.put_activity(a)
        await store.put_activity(b)
        assert await store.get_activity(a.arn) == a
        assert [x.name for x in await store.list_activities()] == ["a", "b"]
        await store.set_tags(a.arn, {"z": "1", "a": "2"})
        assert list((await store.get_tags(a.arn)).items()) == [("z", "1"), ("a", "2")]
        await store.set_tags(a.arn, {"only": "one"})
        assert await store.get_tags(a.arn) == {"only": "one"}
        await store.set_tags(a.arn, {})
        assert await store.get_tags(a.arn) == {}
        await store.set_tags(a.arn, {"k": "v"})
        await store.delete_activity(a.arn)
        assert await store.get_activity(a.arn) is None
        assert await store.get_tags(a.arn) == {}
        assert [x.name for x in await store.list_activities()] == ["b"]

    run(go())


def test_versions_and_aliases(backend: Backend) -> None:
    async def go() -> None:
        store = backend.open()
        m = machine("m")
        v1 = StateMachineVersionRecord(
            arn=SM + "m:1",
            state_machine_arn=m.arn,
            number=1,
            name="m",
            definition=DEFINITION,
            role_arn=m.role_arn,
            type="STANDARD",
            creation_date=1700000003.0,
            revision_id="rev-1",
            logging_configuration={"level": "OFF"},
            tracing_configuration={"enabled": False},
            encryption_configuration={"type": "AWS_OWNED_KEY"},
            description="first",
        )
        await store.put_version(v1)
        assert await store.get_version(v1.arn) == v1
        assert [v.number for v in await store.list_versions(m.arn)] == [1]
        alias = StateMachineAliasRecord(
            arn=SM + "m:prod",
            state_machine_arn=m.arn,
            name="prod",
            routing=[{"stateMachineVersionArn": v1.arn, "weight": 100}],
            creation_date=1700000004.0,
        )
        await store.put_alias(alias)
        assert await store.get_alias(alias.arn) == alias
        alias.description, alias.update_date = "now", 1700000005.0
        await store.put_alias(alias)
        assert await store.list_aliases(m.arn) == [alias]
        await store.delete_alias(alias.arn)
        await store.delete_version(v1.arn)
        assert await store.get_alias(alias.arn) is None and await store.get_version(v1.arn) is None
        assert await store.list_versions(m.arn) == [] and await store.list_aliases(m.arn) == []

    run(go())


def test_events_append_flush_read(backend: Backend) -> None:
    async def go() -> None:
        store = backend.open()
        arn = EX + "m:one"
        for i in range(1, 6):
            store.append(arn, event(i, _f="" if i % 2 else "b0", _r={"n": i}))
        store.append(EX + "m:two", event(1, "ExecutionStarted"))
        await store.flush()
        got = await store.events(arn)
        assert [e["id"] for e in got] == [1, 2, 3, 4, 5]
        assert got[1] == event(2, _f="b0", _r={"n": 2})  # internal keys are kept
        assert [e["type"] for e in await store.events(EX + "m:two")] == ["ExecutionStarted"]
        assert await store.events(EX + "m:none") == []
        store.append(arn, event(5, "PassStateExited"))  # the same id again replaces it
        await store.flush()
        assert [e["type"] for e in await store.events(arn)][-1] == "PassStateExited"
        await store.flush()  # nothing new: returns at once

    run(go())


def test_restart_keeps_everything(backend: Backend) -> None:
    backend.require_durable()

    async def write() -> None:
        store = backend.open()
        await store.put_state_machine(machine("m", description="d"))
        await store.set_tags(SM + "m", {"team": "data"})
        ended = execution("m", "done", status="SUCCEEDED", stop_date=1700000009.0, output_text="{}")
        await store.put_execution(ended)
        await store.put_execution(execution("m", "running"))
        await store.put_activity(ActivityRecord("arn:act", "act", 1700000000.0, {"type": "AWS_OWNED_KEY"}))
        for i in range(1, 4):
            store.append(ended.arn, event(i, _f=""))
        await store.aclose()  # what is queued is written on close

    async def read() -> None:
        store = backend.open()
        assert await store.get_state_machine(SM + "m") == machine("m", description="d")
        assert await store.get_tags(SM + "m") == {"team": "data"}
        done = await store.get_execution(EX + "m:done")
        assert done is not None and done.status == "SUCCEEDED" and done.output_text == "{}"
        assert [r.name for r in await store.running_executions()] == ["running"]
        assert [e["id"] for e in await store.events(EX + "m:done")] == [1, 2, 3]
        assert (await store.events(EX + "m:done"))[0]["_f"] == ""
        assert [a.name for a in await store.list_activities()] == ["act"]

    run(write())
    run(read())


def test_group_commit(backend: Backend) -> None:
    """Many appends and many concurrent flushes share few commits."""

    async def go() -> None:
        store = backend.open(commit_interval=60.0)
        commits = 0

        def count() -> None:
            nonlocal commits
            commits += 1

        if backend.durable:
            store.before_commit = count  # type: ignore[attr-defined]
        for n in range(50):
            for i in range(1, 21):
                store.append(f"{EX}m:{n}", event(i))
        await store.flush()
        if backend.durable:
            assert commits == 1

        async def one(n: int) -> None:
            for i in range(1, 11):
                store.append(f"{EX}k:{n}", event(i))
            await store.flush()

        await asyncio.gather(*(one(n) for n in range(100)))
        if backend.durable:
            assert commits <= 3
        assert [e["id"] for e in await store.events(f"{EX}m:49")] == list(range(1, 21))
        assert [e["id"] for e in await store.events(f"{EX}k:99")] == list(range(1, 11))

    run(go())
