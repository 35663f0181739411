"""One fixture for every storage backend.

``backend`` runs each test once per backend; ``LEGATO_STORE=memory`` or
``LEGATO_STORE=sqlite`` picks one (CI runs both). A new backend (PostgreSQL) adds
one branch to :meth:`Backend.open` and its name to ``BACKENDS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _backends import Backend, selected


@pytest.fixture(params=selected())
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The storage backend under test."""
    b = Backend(request.param, tmp_path / "data")
    try:
        yield b
    finally:
        b.close_all()
