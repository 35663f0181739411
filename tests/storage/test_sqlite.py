"""What only the SQLite store has: migrations, a lock held by another process, a full disk."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from _backends import Backend
from test_store import EX, SM, event, execution, machine, run

from legato.store.records import StoreUnavailable
from legato.store.sqlite import DB_NAME, SqliteStore

PACKAGED = Path(__file__).parents[2] / "src" / "legato" / "store" / "migrations"


@pytest.fixture
def sqlite_backend(backend: Backend) -> Backend:
    if backend.name != "sqlite":
        pytest.skip("SQLite only")
    return backend


def _versions(directory: Path) -> list[int]:
    with sqlite3.connect(directory / DB_NAME) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]


def test_migrations_apply_once_in_order(sqlite_backend: Backend, tmp_path: Path) -> None:
    first = sqlite_backend.open()
    assert isinstance(first, SqliteStore) and first.migrated == [1, 2, 3, 4]
    first.close()
    again = sqlite_backend.open()
    assert isinstance(again, SqliteStore) and again.migrated == []
    again.close()
    assert _versions(sqlite_backend.directory) == [1, 2, 3, 4]

    extra = tmp_path / "migrations"
    extra.mkdir()
    for f in PACKAGED.glob("*.sql"):
        (extra / f.name).write_text(f.read_text())
    (extra / "0005_notes.sql").write_text(
        "-- a later migration\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n"
        "INSERT INTO notes (body) VALUES ('a;b');\n"
    )
    third = sqlite_backend.open(migrations=extra)
    assert isinstance(third, SqliteStore) and third.migrated == [5]
    third.close()
    assert sqlite_backend.open(migrations=extra).migrated == []  # type: ignore[attr-defined]
    assert _versions(sqlite_backend.directory) == [1, 2, 3, 4, 5]
    with pytest.raises(StoreUnavailable, match="newer Legato"):
        sqlite_backend.open()  # only knows up to 4


def test_rejects_bad_settings(sqlite_backend: Backend) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        sqlite_backend.open(synchronous="OFF")
    store = sqlite_backend.open(synchronous="full")
    assert isinstance(store, SqliteStore) and store.synchronous == "FULL"
    with sqlite3.connect(sqlite_backend.directory / DB_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_lock_held_by_another_process(sqlite_backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    """A write lock held past the timeout fails the write clearly; the journal waits and
    is written, without a gap, once the lock is released."""

    async def go() -> None:
        store = sqlite_backend.open(lock_timeout=0.1)
        await store.put_state_machine(machine("kept"))
        arn = EX + "m:one"
        store.append(arn, event(1))
        await store.flush()
        other = sqlite3.connect(sqlite_backend.directory / DB_NAME, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            store.append(arn, event(2))
            with caplog.at_level(logging.ERROR, logger="legato.store"):
                with pytest.raises(StoreUnavailable, match="locked by another process") as info:
                    await store.put_state_machine(machine("refused"))
            assert info.value.type == "ServiceUnavailable" and info.value.status == 503
            assert any("cannot write" in r.getMessage() for r in caplog.records)
            store.append(arn, event(3))
            with pytest.raises(StoreUnavailable):
                await store.flush()
            assert await store.get_state_machine(SM + "kept") is not None  # reads go on
        finally:
            other.execute("ROLLBACK")
            other.close()
        await store.flush()
        assert [e["id"] for e in await store.events(arn)] == [1, 2, 3]
        assert await store.get_state_machine(SM + "refused") is None
        await store.put_state_machine(machine("later"))
        assert [m.name for m in await store.list_state_machines()] == ["kept", "later"]

    run(go())


def test_disk_full(sqlite_backend: Backend) -> None:
    """A full disk fails the batch: nothing committed is lost, the failed write is not
    half-done, the journal keeps its events for the next commit."""

    def full() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    async def go() -> None:
        store = sqlite_backend.open()
        assert isinstance(store, SqliteStore)
        running = execution("m", "one")
        await store.put_execution(running)
        store.append(running.arn, event(1))
        await store.flush()
        store.before_commit = full
        store.append(running.arn, event(2))
        ended = execution("m", "one", status="SUCCEEDED", stop_date=1700000009.0, output_text="{}")
        with pytest.raises(StoreUnavailable, match=r"disk holding .* is full"):
            await store.put_execution(ended)
        with pytest.raises(StoreUnavailable):
            await store.set_tags(SM + "m", {"a": "b"})
        got = await store.get_execution(running.arn)
        assert got is not None and got.status == "RUNNING"
        assert [e["id"] for e in await store.events(running.arn)] == [1]
        store.before_commit = None
        store.append(running.arn, event(3))
        await store.flush()
        assert [e["id"] for e in await store.events(running.arn)] == [1, 2, 3]
        assert await store.get_tags(SM + "m") == {}
        await store.put_execution(ended)
        got = await store.get_execution(running.arn)
        assert got is not None and got.status == "SUCCEEDED"

    run(go())


def test_events_wait_for_a_retry_without_a_flush(sqlite_backend: Backend) -> None:
    """While writes fail, journal events alone are retried in the background."""

    async def go() -> None:
        store = sqlite_backend.open(commit_interval=0.01, retry_interval=0.05)
        assert isinstance(store, SqliteStore)
        failures = 0

        def full_once() -> None:
            nonlocal failures
            if failures == 0:
                failures += 1
                raise sqlite3.OperationalError("database or disk is full")

        store.before_commit = full_once
        store.append(EX + "m:bg", event(1))
        for _ in range(300):
            if await store.events(EX + "m:bg"):
                break
            await asyncio.sleep(0.01)
        assert failures == 1
        assert [e["id"] for e in await store.events(EX + "m:bg")] == [1]

    run(go())


def test_closed_store_refuses_work(sqlite_backend: Backend) -> None:
    store = sqlite_backend.open()
    store.append(EX + "m:x", event(1))
    assert isinstance(store, SqliteStore)
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.append(EX + "m:x", event(2))
    with pytest.raises(StoreUnavailable, match="closed"):
        run(store.put_state_machine(machine("late")))
    reopened = sqlite_backend.open()
    assert [e["id"] for e in run(reopened.events(EX + "m:x"))] == [1]
