"""A real ``legato serve`` subprocess on a free loopback port, for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _live import live_server


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a server shared by the session's API tests (system clock)."""
    with live_server(tmp_path_factory.mktemp("legato-data"), "--clock", "system") as url:
        yield url
