"""The harness itself: Windows CPython runs under Wine and imports the agent as on an office PC."""

from __future__ import annotations

from .harness import WinePython


def test_the_agent_imports_under_windows_python(wine: WinePython) -> None:
    got = wine.run("probe.py")
    assert got.get("error") is None, got.get("traceback")
    assert got["platform"] == "win32"
    assert got["system"] == "Windows"
    assert got["pointer_bits"] == 64
    assert got["sizeof_input"] == 40  # the LLP64 layout SendInput checks (cbSize)
    assert got["gateway_loaded"] is False
    assert got["sqlalchemy_loaded"] is False
