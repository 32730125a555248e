"""Pytest fixtures for the directory tests (a plugin named in tests/conftest.py): real slapd servers
from tests/directory_server.py, stopped at the end of the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.directory_server import DirectoryServer, start_servers


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[DirectoryServer]:
    """One running slapd with the AD-like and the plain-LDAP organisation."""
    servers = start_servers(tmp_path / "directory")
    yield servers[0]
    servers[0].stop()


@pytest.fixture
def directory_pair(tmp_path: Path) -> Iterator[tuple[DirectoryServer, DirectoryServer]]:
    """Two running slapd with the same data and CA, for failover (stop the first, the second answers)."""
    first, second = start_servers(tmp_path / "directory", 2)
    yield first, second
    first.stop()
    second.stop()
