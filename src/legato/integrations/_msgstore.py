"""The SQLite file the embedded SQS, SNS, EventBridge and Glue providers share.

One file, ``DATA_DIR/messaging/messaging.sqlite3``, in WAL mode, so that a
``legato serve`` process and ``legato queues ...`` commands can use it at the
same time. Statements are tiny and run on the caller's thread under a lock; the
event loop never waits on a thread hop for them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from legato.integrations.settings import IntegrationSettings

__all__ = ["MessagingStore", "store_at", "store_for"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,
    attributes TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, id TEXT NOT NULL,
    body TEXT NOT NULL, attributes TEXT NOT NULL, group_id TEXT, dedup_id TEXT,
    sequence_number TEXT, sent REAL NOT NULL, visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT, first_received REAL);
CREATE INDEX IF NOT EXISTS messages_queue ON messages (queue, visible_at);
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,
    attributes TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    arn TEXT PRIMARY KEY, topic TEXT NOT NULL, protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL, raw INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS published (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, id TEXT NOT NULL,
    message TEXT NOT NULL, subject TEXT, attributes TEXT NOT NULL, published REAL NOT NULL);
CREATE TABLE IF NOT EXISTS buses (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, bus TEXT NOT NULL,
    source TEXT NOT NULL, detail_type TEXT NOT NULL, event TEXT NOT NULL, time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rules (
    bus TEXT NOT NULL, name TEXT NOT NULL, pattern TEXT NOT NULL, targets TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'ENABLED', PRIMARY KEY (bus, name));
CREATE TABLE IF NOT EXISTS job_runs (
    id TEXT PRIMARY KEY, job TEXT NOT NULL, state TEXT NOT NULL, arguments TEXT NOT NULL,
    started REAL NOT NULL, modified REAL NOT NULL, completed REAL, error TEXT);
"""


class MessagingStore:
    """One open messaging database; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed when the block ends."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read statement."""
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Runs one write statement in its own transaction; returns the rows it changed."""
        with self.transaction() as db:
            return db.execute(sql, args).rowcount

    def close(self) -> None:
        """Closes the database."""
        with self._lock:
            self._db.close()


def store_at(data_dir: str | Path) -> MessagingStore:
    """The messaging store of a data directory (what ``legato serve --data-dir`` uses)."""
    return MessagingStore(Path(data_dir) / "messaging" / "messaging.sqlite3")


def store_for(settings: IntegrationSettings) -> MessagingStore:
    """The engine's messaging store, opened on first use and kept in ``settings.state``."""
    store = settings.state.get("messaging.store")
    if store is None:
        store = MessagingStore(settings.directory("messaging") / "messaging.sqlite3")
        settings.state["messaging.store"] = store
    assert isinstance(store, MessagingStore)
    return store


class Provider:
    """What the SQS, SNS and EventBridge providers share: their store, where they are
    (region and account, for ARNs and URLs), their clock and their id source."""

    def __init__(
        self,
        store: MessagingStore,
        region: str = "us-east-1",
        account: str = "123456789012",
        now: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.store = store
        self.region = region
        self.account = account
        self._now = now
        self._new_id = new_id
