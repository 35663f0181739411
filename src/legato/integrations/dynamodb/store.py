"""Tables on SQLite: one database file, items as DynamoDB JSON keyed by their hash and range keys.

Keys are stored as order-preserving byte strings (:func:`~legato.integrations.dynamodb.attributes.encode_key`),
so SQLite's index returns a partition's items in sort-key order, as a Query does. One connection is
shared under a lock, so the store is safe to use from any thread; WAL mode lets the CLI read and
write the same file while ``legato serve`` runs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from legato import _json
from legato.integrations.dynamodb.attributes import Item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tables (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    table_name TEXT NOT NULL,
    hk BLOB NOT NULL,
    rk BLOB NOT NULL,
    item TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (table_name, hk, rk)
) WITHOUT ROWID;
"""


class TableStore:
    """The SQLite file that holds every table's description and items."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Closes the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Holds the lock and one write transaction: a read-check-write is atomic."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- tables
    def describe(self, name: str) -> dict[str, Any] | None:
        """A table's stored description, or None."""
        with self._lock:
            row = self._db.execute("SELECT description FROM tables WHERE name = ?", (name,)).fetchone()
        return None if row is None else _json.loads(row[0])

    def create(self, name: str, description: dict[str, Any]) -> bool:
        """Stores a new table; False when the name is taken."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO tables (name, description) VALUES (?, ?)", (name, _json.dumps(description))
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def drop(self, name: str) -> None:
        """Deletes a table and its items."""
        with self.transaction():
            self._db.execute("DELETE FROM items WHERE table_name = ?", (name,))
            self._db.execute("DELETE FROM tables WHERE name = ?", (name,))

    def names(self) -> list[str]:
        """Every table name, sorted."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM tables ORDER BY name")]

    def stats(self, name: str) -> tuple[int, int]:
        """(item count, total size in bytes) of a table."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM items WHERE table_name = ?", (name,)
            ).fetchone()
        return int(row[0]), int(row[1])

    # -- items
    def get(self, table: str, hk: bytes, rk: bytes) -> Item | None:
        """The item with these keys, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT item FROM items WHERE table_name = ? AND hk = ? AND rk = ?", (table, hk, rk)
            ).fetchone()
        return None if row is None else _json.loads(row[0])

    def put(self, table: str, hk: bytes, rk: bytes, item: Item, size: int) -> None:
        """Writes (replaces) an item."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO items (table_name, hk, rk, item, size) VALUES (?, ?, ?, ?, ?)",
                (table, hk, rk, _json.dumps(item), size),
            )

    def delete(self, table: str, hk: bytes, rk: bytes) -> None:
        """Deletes an item (nothing happens when there is none)."""
        with self._lock:
            self._db.execute("DELETE FROM items WHERE table_name = ? AND hk = ? AND rk = ?", (table, hk, rk))

    def partition(
        self,
        table: str,
        hk: bytes,
        *,
        lower: tuple[bytes, bool] | None = None,
        upper: tuple[bytes, bool] | None = None,
        forward: bool = True,
        batch: int = 256,
    ) -> Iterator[tuple[bytes, Item]]:
        """A partition's items in sort-key order, between optional (key, inclusive) bounds."""
        while True:
            sql = "SELECT rk, item FROM items WHERE table_name = ? AND hk = ?"
            args: list[Any] = [table, hk]
            if lower is not None:
                sql += " AND rk >= ?" if lower[1] else " AND rk > ?"
                args.append(lower[0])
            if upper is not None:
                sql += " AND rk <= ?" if upper[1] else " AND rk < ?"
                args.append(upper[0])
            sql += f" ORDER BY rk {'ASC' if forward else 'DESC'} LIMIT ?"
            with self._lock:
                rows = self._db.execute(sql, (*args, batch)).fetchall()
            for rk, text in rows:
                yield rk, _json.loads(text)
            if len(rows) < batch:
                return
            # The next batch starts after the last row returned.
            if forward:
                lower = (rows[-1][0], False)
            else:
                upper = (rows[-1][0], False)

    def scan(
        self, table: str, after: tuple[bytes, bytes] | None = None, batch: int = 256
    ) -> Iterator[tuple[bytes, bytes, Item]]:
        """Every item of a table in key order, optionally after the (hk, rk) given."""
        while True:
            with self._lock:
                if after is None:
                    rows = self._db.execute(
                        "SELECT hk, rk, item FROM items WHERE table_name = ? ORDER BY hk, rk LIMIT ?",
                        (table, batch),
                    ).fetchall()
                else:
                    rows = self._db.execute(
                        "SELECT hk, rk, item FROM items WHERE table_name = ? AND (hk > ? OR (hk = ? AND rk > ?)) "
                        "ORDER BY hk, rk LIMIT ?",
                        (table, after[0], after[0], after[1], batch),
                    ).fetchall()
            for hk, rk, text in rows:
                yield hk, rk, _json.loads(text)
            if len(rows) < batch:
                return
            after = (rows[-1][0], rows[-1][1])
