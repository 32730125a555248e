"""Fixtures for the Windows code under Wine: one prepared interpreter and one Xvfb per test session."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from jiseki.demo.processes import ProcessGroup
from tests.xhost import start_xvfb

from .harness import SCRIPT, WinePython

pytestmark = pytest.mark.wine


@pytest.fixture(scope="session")
def wine() -> Iterator[WinePython]:
    # Builds the cached interpreter on a fresh machine (about a minute); fails, not skips, without Wine:
    # CI must run these tests.
    subprocess.run(["bash", str(SCRIPT), "prepare"], check=True, timeout=900)
    group = ProcessGroup()
    desktop = start_xvfb(group, 1920, 1080)
    python = WinePython(desktop.display)
    python.start_server()
    try:
        yield python
    finally:
        python.stop_server()
        group.stop_all()
