"""Fixtures for the Distributed Map data tests: Services over an embedded S3 store."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.integrations._s3store import ObjectStore
from legato.integrations.s3 import object_store
from legato.integrations.settings import IntegrationSettings
from legato.runtime.services import Services


@pytest.fixture
def services(tmp_path: Path) -> Services:
    return Services(integrations=IntegrationSettings(data_dir=tmp_path))


@pytest.fixture
def store(services: Services) -> ObjectStore:
    s = object_store(services)
    s.create_bucket("bucket-name")
    return s
