"""The durable :class:`~legato.store.records.Store`: SQLite in WAL mode, in ``DIR/legato.db``.

One writer thread owns the only write connection and commits in groups
(:mod:`legato.store._writer`); every write an API call makes is committed before
the call returns. Reads run on the caller's thread, on a read connection of its
own: in WAL mode they never wait for the writer, and a short indexed query costs
less than a hop to a thread would.

The store is also the journal of Standard executions: :meth:`SqliteStore.append`
queues a history event, :meth:`SqliteStore.flush` returns once it is committed.
Express executions are kept in memory only, as on AWS they have no durable record.

The schema comes from the numbered files in ``legato/store/migrations``
(``0001_initial.sql`` ...), each applied once, in order, and recorded in the
``schema_version`` table.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from legato import _json
from legato.store._express import ExpressArchive
from legato.store._migrate import migrate
from legato.store._writer import Writer, unavailable
from legato.store.records import (
    ActivityRecord,
    ExecutionRecord,
    MapRunRecord,
    StateMachineAliasRecord,
    StateMachineRecord,
    StateMachineVersionRecord,
    StoreUnavailable,
)

__all__ = ["DB_NAME", "SYNC_MODES", "SqliteStore", "migrate"]

DB_NAME = "legato.db"
"""The database's file name inside the data directory."""
SYNC_MODES = ("NORMAL", "FULL")
"""SQLite ``synchronous`` settings the store accepts. NORMAL (the default) in WAL mode
never corrupts the database; a power cut may lose the last commits. FULL loses none."""

_SM_COLUMNS = (
    "s.arn, s.name, d.text, s.role_arn, s.type, s.creation_date, s.revision_id, "
    "s.logging_configuration, s.tracing_configuration, s.encryption_configuration, "
    "s.update_date, s.description, s.last_version"
)
_SM_SELECT = f"SELECT {_SM_COLUMNS} FROM state_machines s JOIN definitions d ON d.hash = s.definition_hash"
_EX_COLUMNS = (
    "e.arn, e.name, e.state_machine_arn, e.state_machine_name, e.type, e.input_text, e.start_date, "
    "d.text, e.role_arn, e.state_machine_update_date, e.revision_id, e.logging_configuration, "
    "e.tracing_configuration, e.encryption_configuration, e.trace_header, e.status, e.stop_date, "
    "e.output_text, e.error, e.cause, e.state_machine_version_arn, e.state_machine_alias_arn, "
    "e.redrive_count, e.redrive_date, e.map_run_arn, e.item_count"
)
_EX_SELECT = f"SELECT {_EX_COLUMNS} FROM executions e JOIN definitions d ON d.hash = e.definition_hash"

_PUT_SM = """
INSERT INTO state_machines (arn, name, definition_hash, role_arn, type, creation_date, update_date,
    description, revision_id, logging_configuration, tracing_configuration, encryption_configuration,
    last_version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (arn) DO UPDATE SET name = excluded.name, definition_hash = excluded.definition_hash,
    role_arn = excluded.role_arn, type = excluded.type, creation_date = excluded.creation_date,
    update_date = excluded.update_date, description = excluded.description,
    revision_id = excluded.revision_id, logging_configuration = excluded.logging_configuration,
    tracing_configuration = excluded.tracing_configuration,
    encryption_configuration = excluded.encryption_configuration, last_version = excluded.last_version
"""
_PUT_EX = """
INSERT INTO executions (arn, name, state_machine_arn, state_machine_name, type, input_text, start_date,
    definition_hash, role_arn, state_machine_update_date, revision_id, logging_configuration,
    tracing_configuration, encryption_configuration, trace_header, status, stop_date, output_text,
    error, cause, state_machine_version_arn, state_machine_alias_arn, redrive_count, redrive_date,
    map_run_arn, item_count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (arn) DO UPDATE SET status = excluded.status, stop_date = excluded.stop_date,
    output_text = excluded.output_text, error = excluded.error, cause = excluded.cause,
    trace_header = excluded.trace_header, state_machine_version_arn = excluded.state_machine_version_arn,
    state_machine_alias_arn = excluded.state_machine_alias_arn, redrive_count = excluded.redrive_count,
    redrive_date = excluded.redrive_date
"""
_PUT_DEFINITION = "INSERT OR IGNORE INTO definitions (hash, text) VALUES (?, ?)"
_PUT_VERSION = """
INSERT OR REPLACE INTO versions (arn, state_machine_arn, number, name, definition_hash, role_arn, type,
    creation_date, revision_id, logging_configuration, tracing_configuration, encryption_configuration,
    description)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_VERSION_SELECT = """
SELECT v.arn, v.state_machine_arn, v.number, v.name, d.text, v.role_arn, v.type, v.creation_date,
    v.revision_id, v.logging_configuration, v.tracing_configuration, v.encryption_configuration,
    v.description
FROM versions v JOIN definitions d ON d.hash = v.definition_hash
"""
_PUT_ALIAS = """
INSERT INTO aliases (arn, state_machine_arn, name, routing, creation_date, description, update_date)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (arn) DO UPDATE SET state_machine_arn = excluded.state_machine_arn, name = excluded.name,
    routing = excluded.routing, creation_date = excluded.creation_date,
    description = excluded.description, update_date = excluded.update_date
"""
_PUT_MAP_RUN = """
INSERT INTO map_runs (arn, execution_arn, body) VALUES (?, ?, ?)
ON CONFLICT (arn) DO UPDATE SET execution_arn = excluded.execution_arn, body = excluded.body
"""
_ALIAS_SELECT = (
    "SELECT arn, state_machine_arn, name, routing, creation_date, description, update_date FROM aliases"
)
_PUT_ACTIVITY = """
INSERT INTO activities (arn, name, creation_date, encryption_configuration) VALUES (?, ?, ?, ?)
ON CONFLICT (arn) DO UPDATE SET name = excluded.name, creation_date = excluded.creation_date,
    encryption_configuration = excluded.encryption_configuration
"""


def _dumps(value: Any) -> str:
    return _json.dumps(value)


def _state_machine(row: tuple[Any, ...]) -> StateMachineRecord:
    return StateMachineRecord(
        arn=row[0],
        name=row[1],
        definition=row[2],
        role_arn=row[3],
        type=row[4],
        creation_date=row[5],
        revision_id=row[6],
        logging_configuration=_json.loads(row[7]),
        tracing_configuration=_json.loads(row[8]),
        encryption_configuration=_json.loads(row[9]),
        update_date=row[10],
        description=row[11],
        last_version=row[12],
    )


def _execution(row: tuple[Any, ...]) -> ExecutionRecord:
    return ExecutionRecord(
        arn=row[0],
        name=row[1],
        state_machine_arn=row[2],
        state_machine_name=row[3],
        type=row[4],
        input_text=row[5],
        start_date=row[6],
        definition=row[7],
        role_arn=row[8],
        state_machine_update_date=row[9],
        revision_id=row[10],
        logging_configuration=_json.loads(row[11]),
        tracing_configuration=_json.loads(row[12]),
        encryption_configuration=_json.loads(row[13]),
        trace_header=row[14],
        status=row[15],
        stop_date=row[16],
        output_text=row[17],
        error=row[18],
        cause=row[19],
        state_machine_version_arn=row[20],
        state_machine_alias_arn=row[21],
        redrive_count=row[22],
        redrive_date=row[23],
        map_run_arn=row[24],
        item_count=row[25],
    )


def _version(row: tuple[Any, ...]) -> StateMachineVersionRecord:
    return StateMachineVersionRecord(
        arn=row[0],
        state_machine_arn=row[1],
        number=row[2],
        name=row[3],
        definition=row[4],
        role_arn=row[5],
        type=row[6],
        creation_date=row[7],
        revision_id=row[8],
        logging_configuration=_json.loads(row[9]),
        tracing_configuration=_json.loads(row[10]),
        encryption_configuration=_json.loads(row[11]),
        description=row[12],
    )


def _map_run_fields(record: MapRunRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in MapRunRecord.__slots__}


def _alias(row: tuple[Any, ...]) -> StateMachineAliasRecord:
    return StateMachineAliasRecord(
        arn=row[0],
        state_machine_arn=row[1],
        name=row[2],
        routing=_json.loads(row[3]),
        creation_date=row[4],
        description=row[5],
        update_date=row[6],
    )


class SqliteStore:
    """Keeps Legato's resources and journals in ``DIRECTORY/legato.db``.

    ``synchronous`` is ``"NORMAL"`` (default) or ``"FULL"``; ``lock_timeout`` is how
    long a write waits for another process's write lock before it fails with
    :class:`StoreUnavailable`; ``commit_interval`` how long journal events alone may
    wait for a commit (a waiting writer or flush commits at once); ``retry_interval`` how
    often journal events alone are retried while writes fail.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        synchronous: str = "NORMAL",
        lock_timeout: float = 5.0,
        commit_interval: float = 0.05,
        retry_interval: float = 1.0,
        migrations: Path | None = None,
    ) -> None:
        sync = synchronous.upper()
        if sync not in SYNC_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNC_MODES)}, not {synchronous!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        self.synchronous = sync
        self.lock_timeout = lock_timeout
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={sync}")
            self.migrated = migrate(conn, migrations)
            """The migrations this opening applied."""
        except sqlite3.Error as exc:
            conn.close()
            raise unavailable(self.path, exc, lock_timeout) from None
        except BaseException:
            conn.close()
            raise
        self._writer = Writer(
            conn,
            self.path,
            lock_timeout=lock_timeout,
            interval=commit_interval,
            retry_interval=retry_interval,
        )
        self._readers: dict[int, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._live: dict[str, ExecutionRecord] = {}
        self._express: dict[str, ExecutionRecord] = {}
        self._express_done = ExpressArchive()
        self._hashes: dict[str, str] = {}
        self._stored: dict[str, bool] = {}
        """Hashes of the definitions committed by this store (a bounded cache)."""

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self.path, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False
        )

    @property
    def before_commit(self) -> Callable[[], None] | None:
        """Test hook of the writer (see :attr:`legato.store._writer.Writer.before_commit`)."""
        return self._writer.before_commit

    @before_commit.setter
    def before_commit(self, hook: Callable[[], None] | None) -> None:
        self._writer.before_commit = hook

    # -- reading

    def _reader(self) -> sqlite3.Connection:
        ident = threading.get_ident()
        conn = self._readers.get(ident)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            with self._readers_lock:
                self._readers[ident] = conn
        return conn

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            rows: list[tuple[Any, ...]] = self._reader().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"Cannot read the Legato database {self.path}: {exc}") from None
        return rows

    def _definition_stored(self, digest: str) -> None:
        if len(self._stored) >= 1024:
            self._stored.clear()
        self._stored[digest] = True

    def _definition_hash(self, text: str) -> str:
        digest = self._hashes.get(text)
        if digest is None:
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
            if len(self._hashes) >= 256:
                self._hashes.clear()
            self._hashes[text] = digest
        return digest

    # -- state machines

    async def put_state_machine(self, record: StateMachineRecord) -> None:
        """Inserts or replaces a state machine (an update keeps its place in the list)."""
        digest = self._definition_hash(record.definition)
        row = (
            record.arn,
            record.name,
            digest,
            record.role_arn,
            record.type,
            record.creation_date,
            record.update_date,
            record.description,
            record.revision_id,
            _dumps(record.logging_configuration),
            _dumps(record.tracing_configuration),
            _dumps(record.encryption_configuration),
            record.last_version,
        )
        definition = record.definition
        known = self._stored.get(digest)  # stored already: no statement to write it

        def write(conn: sqlite3.Connection) -> None:
            if known is None:
                conn.execute(_PUT_DEFINITION, (digest, definition))
            conn.execute(_PUT_SM, row)

        await self._writer.write(write)
        self._definition_stored(digest)

    async def get_state_machine(self, arn: str) -> StateMachineRecord | None:
        """The state machine with this ARN, or ``None``."""
        rows = self._read(f"{_SM_SELECT} WHERE s.arn = ?", (arn,))
        return _state_machine(rows[0]) if rows else None

    async def delete_state_machine(self, arn: str) -> None:
        """Removes a state machine and its tags (its executions stay)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM state_machines WHERE arn = ?", (arn,))
            conn.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))

        await self._writer.write(write)

    async def list_state_machines(self) -> list[StateMachineRecord]:
        """Every state machine, in creation order."""
        return [_state_machine(r) for r in self._read(f"{_SM_SELECT} ORDER BY s.rowid")]

    # -- executions

    async def put_execution(self, record: ExecutionRecord) -> None:
        """Inserts an execution, or records how it ended (status, stop date, output,
        error, cause). Express executions stay in memory: they have no durable record."""
        if record.type == "EXPRESS":
            if record.status == "RUNNING":
                self._express[record.arn] = record
            else:
                self._express.pop(record.arn, None)
                self._express_done.keep(record)
            return
        added = record.runtime is not None and record.status == "RUNNING" and record.arn not in self._live
        if added:
            self._live[record.arn] = record
        digest = self._definition_hash(record.definition)
        row = (
            record.arn,
            record.name,
            record.state_machine_arn,
            record.state_machine_name,
            record.type,
            record.input_text,
            record.start_date,
            digest,
            record.role_arn,
            record.state_machine_update_date,
            record.revision_id,
            _dumps(record.logging_configuration),
            _dumps(record.tracing_configuration),
            _dumps(record.encryption_configuration),
            record.trace_header,
            record.status,
            record.stop_date,
            record.output_text,
            record.error,
            record.cause,
            record.state_machine_version_arn,
            record.state_machine_alias_arn,
            record.redrive_count,
            record.redrive_date,
            record.map_run_arn,
            record.item_count,
        )
        definition = record.definition
        known = self._stored.get(digest)  # stored already: no statement to write it

        def write(conn: sqlite3.Connection) -> None:
            if known is None:
                conn.execute(_PUT_DEFINITION, (digest, definition))
            conn.execute(_PUT_EX, row)

        try:
            await self._writer.write(write)
            self._definition_stored(digest)
        except BaseException:
            if added:  # never stored: it must not look like it was
                self._live.pop(record.arn, None)
            raise
        if record.status != "RUNNING":
            # Ended and committed: from now on it is read from the database.
            self._live.pop(record.arn, None)

    async def get_execution(self, arn: str) -> ExecutionRecord | None:
        """The execution with this ARN (the live record while it runs here), or ``None``."""
        live = self._live.get(arn) or self._express.get(arn) or self._express_done.get(arn)
        if live is not None:
            return live
        rows = self._read(f"{_EX_SELECT} WHERE e.arn = ?", (arn,))
        return _execution(rows[0]) if rows else None

    async def list_executions(self, state_machine_arn: str) -> list[ExecutionRecord]:
        """The Standard executions of one state machine, oldest first."""
        rows = self._read(
            f"{_EX_SELECT} WHERE e.state_machine_arn = ? ORDER BY e.rowid", (state_machine_arn,)
        )
        out = []
        for row in rows:
            live = self._live.get(row[0])
            out.append(live if live is not None else _execution(row))
        return out

    async def list_map_run_children(self, map_run_arn: str) -> list[ExecutionRecord]:
        """The child executions a Map Run started, oldest first."""
        rows = self._read(f"{_EX_SELECT} WHERE e.map_run_arn = ? ORDER BY e.rowid", (map_run_arn,))
        out = []
        for row in rows:
            live = self._live.get(row[0])
            out.append(live if live is not None else _execution(row))
        return out

    async def running_executions(self) -> list[ExecutionRecord]:
        """Every execution stored as ``RUNNING``, oldest first (to resume at startup)."""
        rows = self._read(f"{_EX_SELECT} WHERE e.status = 'RUNNING' ORDER BY e.rowid")
        return [_execution(r) for r in rows]

    # -- versions and aliases

    async def put_version(self, record: StateMachineVersionRecord) -> None:
        """Inserts a state machine version."""
        digest = self._definition_hash(record.definition)
        row = (
            record.arn,
            record.state_machine_arn,
            record.number,
            record.name,
            digest,
            record.role_arn,
            record.type,
            record.creation_date,
            record.revision_id,
            _dumps(record.logging_configuration),
            _dumps(record.tracing_configuration),
            _dumps(record.encryption_configuration),
            record.description,
        )
        definition = record.definition
        known = self._stored.get(digest)  # stored already: no statement to write it

        def write(conn: sqlite3.Connection) -> None:
            if known is None:
                conn.execute(_PUT_DEFINITION, (digest, definition))
            conn.execute(_PUT_VERSION, row)

        await self._writer.write(write)
        self._definition_stored(digest)

    async def get_version(self, arn: str) -> StateMachineVersionRecord | None:
        """The version with this ARN, or ``None``."""
        rows = self._read(f"{_VERSION_SELECT} WHERE v.arn = ?", (arn,))
        return _version(rows[0]) if rows else None

    async def list_versions(self, state_machine_arn: str) -> list[StateMachineVersionRecord]:
        """The versions of one state machine, oldest first."""
        rows = self._read(
            f"{_VERSION_SELECT} WHERE v.state_machine_arn = ? ORDER BY v.rowid", (state_machine_arn,)
        )
        return [_version(r) for r in rows]

    async def delete_version(self, arn: str) -> None:
        """Removes a version (nothing happens when it does not exist)."""
        await self._delete("versions", arn)

    async def put_alias(self, record: StateMachineAliasRecord) -> None:
        """Inserts or replaces an alias."""
        row = (
            record.arn,
            record.state_machine_arn,
            record.name,
            _dumps(record.routing),
            record.creation_date,
            record.description,
            record.update_date,
        )

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_PUT_ALIAS, row)

        await self._writer.write(write)

    async def get_alias(self, arn: str) -> StateMachineAliasRecord | None:
        """The alias with this ARN, or ``None``."""
        rows = self._read(f"{_ALIAS_SELECT} WHERE arn = ?", (arn,))
        return _alias(rows[0]) if rows else None

    async def list_aliases(self, state_machine_arn: str) -> list[StateMachineAliasRecord]:
        """The aliases of one state machine, oldest first."""
        rows = self._read(f"{_ALIAS_SELECT} WHERE state_machine_arn = ? ORDER BY rowid", (state_machine_arn,))
        return [_alias(r) for r in rows]

    async def delete_alias(self, arn: str) -> None:
        """Removes an alias (nothing happens when it does not exist)."""
        await self._delete("aliases", arn)

    async def put_map_run(self, record: MapRunRecord) -> None:
        """Inserts or replaces a Map Run (its fields kept as one JSON document)."""
        row = (record.arn, record.execution_arn, _dumps(_map_run_fields(record)))

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_PUT_MAP_RUN, row)

        await self._writer.write(write)

    async def get_map_run(self, arn: str) -> MapRunRecord | None:
        """The Map Run with this ARN, or ``None``."""
        rows = self._read("SELECT body FROM map_runs WHERE arn = ?", (arn,))
        return MapRunRecord(**_json.loads(rows[0][0])) if rows else None

    async def list_map_runs(self, execution_arn: str) -> list[MapRunRecord]:
        """The Map Runs an execution started, oldest first."""
        rows = self._read(
            "SELECT body FROM map_runs WHERE execution_arn = ? ORDER BY rowid", (execution_arn,)
        )
        return [MapRunRecord(**_json.loads(r[0])) for r in rows]

    async def _delete(self, table: str, arn: str) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(f"DELETE FROM {table} WHERE arn = ?", (arn,))

        await self._writer.write(write)

    # -- the journal

    def append(self, execution_arn: str, event: dict[str, Any]) -> None:
        """Queues one history event (internal ``_`` keys included); does not block."""
        self._writer.append_event(execution_arn, event["id"], _json.dumps(event))

    async def flush(self) -> None:
        """Returns once every event appended so far is committed."""
        await self._writer.flush()

    async def events(self, execution_arn: str) -> list[dict[str, Any]]:
        """The committed history events of an execution, by id."""
        rows = self._read("SELECT body FROM events WHERE execution_arn = ? ORDER BY id", (execution_arn,))
        return [_json.loads(r[0]) for r in rows]

    # -- activities

    async def put_activity(self, record: ActivityRecord) -> None:
        """Inserts or replaces an activity."""
        row = (record.arn, record.name, record.creation_date, _dumps(record.encryption_configuration))

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_PUT_ACTIVITY, row)

        await self._writer.write(write)

    async def get_activity(self, arn: str) -> ActivityRecord | None:
        """The activity with this ARN, or ``None``."""
        rows = self._read(
            "SELECT arn, name, creation_date, encryption_configuration FROM activities WHERE arn = ?", (arn,)
        )
        if not rows:
            return None
        r = rows[0]
        return ActivityRecord(r[0], r[1], r[2], _json.loads(r[3]))

    async def delete_activity(self, arn: str) -> None:
        """Removes an activity and its tags."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM activities WHERE arn = ?", (arn,))
            conn.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))

        await self._writer.write(write)

    async def list_activities(self) -> list[ActivityRecord]:
        """Every activity, in creation order."""
        rows = self._read(
            "SELECT arn, name, creation_date, encryption_configuration FROM activities ORDER BY rowid"
        )
        return [ActivityRecord(r[0], r[1], r[2], _json.loads(r[3])) for r in rows]

    # -- tags

    async def get_tags(self, arn: str) -> dict[str, str]:
        """The tags of a resource, in the order they were set (empty when it has none)."""
        rows = self._read("SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY rowid", (arn,))
        return {k: v for k, v in rows}

    async def set_tags(self, arn: str, tags: dict[str, str]) -> None:
        """Replaces the tags of a resource; an empty mapping removes them."""
        rows = [(arn, k, v) for k, v in tags.items()]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))
            conn.executemany("INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?)", rows)

        await self._writer.write(write)

    # -- lifetime

    def close(self) -> None:
        """Commits what is queued, stops the writer and closes every connection."""
        self._writer.close()
        with self._readers_lock:
            readers, self._readers = list(self._readers.values()), {}
        for conn in readers:
            conn.close()

    async def aclose(self) -> None:
        """:meth:`close` for async callers (the writer's last commit runs off the loop)."""
        await asyncio.to_thread(self.close)
