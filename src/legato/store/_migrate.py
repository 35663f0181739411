"""Schema migrations of the SQLite store: the numbered ``NNNN_name.sql`` files in
``legato/store/migrations``, each applied once, in order, and recorded in the
``schema_version`` table."""

from __future__ import annotations

import importlib.resources
import re
import sqlite3
import time
from collections.abc import Iterable
from importlib.resources.abc import Traversable
from pathlib import Path

from legato.store.records import StoreUnavailable

__all__ = ["migrate"]

_MIGRATION_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.sql$")


def _migration_files(directory: Traversable | Path) -> list[tuple[int, str, Traversable | Path]]:
    found = []
    for entry in directory.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migration files share a number in {directory}")
    return found


def _statements(script: str) -> Iterable[str]:
    """Splits a migration file into whole statements (``sqlite3.complete_statement``)."""
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            yield current
            current = ""
    if current.strip() and any(
        part.strip() and not part.strip().startswith("--") for part in current.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {current.strip()[:80]}")


def migrate(conn: sqlite3.Connection, directory: Traversable | Path | None = None) -> list[int]:
    """Applies the migrations ``conn``'s database lacks, each in its own transaction;
    returns the versions applied (none when the schema is current).

    Safe against another process migrating at the same time: the version check and
    the migration happen under the write lock (``BEGIN IMMEDIATE``).
    """
    if directory is None:
        directory = importlib.resources.files("legato.store").joinpath("migrations")
    files = _migration_files(directory)
    known = files[-1][0] if files else 0
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at REAL)")
    applied: list[int] = []
    for version, _name, entry in files:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
            newest = max(done, default=0)
            if newest > known:
                raise StoreUnavailable(
                    f"The Legato database was written by a newer Legato (schema version {newest}; "
                    f"this one knows up to {known}); upgrade Legato to open it"
                )
            if version in done:
                conn.execute("COMMIT")
                continue
            for statement in _statements(entry.read_text(encoding="utf-8")):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, time.time())
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied
