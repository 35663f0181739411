"""The storage backends the tests run on (see ``conftest.py``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from legato.store.memory import MemoryStore
from legato.store.records import Store
from legato.store.sqlite import SqliteStore

BACKENDS = ("memory", "sqlite")


def selected() -> list[str]:
    chosen = os.environ.get("LEGATO_STORE")
    if not chosen:
        return list(BACKENDS)
    if chosen not in BACKENDS:
        raise pytest.UsageError(f"LEGATO_STORE must be one of {', '.join(BACKENDS)}, not {chosen!r}")
    return [chosen]


class Backend:
    """Opens stores of one kind on one data directory; closes them after the test."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = directory
        self.durable = name != "memory"
        """Whether what is stored survives closing the store."""
        self._opened: list[Any] = []

    def open(self, **options: Any) -> Store:
        """A store on this backend's directory (``options`` go to durable stores)."""
        store: Any
        if self.name == "memory":
            store = MemoryStore()
        elif self.name == "sqlite":
            store = SqliteStore(self.directory, **options)
        else:  # pragma: no cover - a backend named in BACKENDS without a branch here
            raise AssertionError(self.name)
        self._opened.append(store)
        return store  # type: ignore[no-any-return]

    def require_durable(self) -> None:
        """Skips the test for a backend that keeps nothing across a restart."""
        if not self.durable:
            pytest.skip(f"the {self.name} store is not durable")

    def close_all(self) -> None:
        for store in self._opened:
            close = getattr(store, "close", None)
            if close is not None:
                close()
