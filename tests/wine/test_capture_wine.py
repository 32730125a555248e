"""The Windows capture under Wine: GDI for real (pixel-exact on a window of known pixels), DXGI up to
DuplicateOutput, which Wine 8 does not implement (the chooser must fall back and say why)."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import WinePython


@pytest.fixture(scope="module")
def captured(wine: WinePython) -> dict[str, Any]:
    got = wine.run("capture.py", timeout=180)
    assert got.get("error") is None, got.get("traceback")
    return got


def test_chooser_falls_back_to_gdi_with_the_dxgi_reason(captured: dict[str, Any]) -> None:
    assert captured["method"] == "gdi"
    assert captured["fallback_reason"] == "DuplicateOutput: E_NOTIMPL"
    # Wine 8 lacks PER_MONITOR_AWARE_V2, and python.exe's manifest already made the process aware.
    assert captured["dpi"] == "already per-monitor"


def test_window_pixels_are_exact_and_an_area_grab_reads_only_that_area(captured: dict[str, Any]) -> None:
    assert captured["full_mismatches"] == 0
    assert captured["area_mismatches"] == 0
    assert captured["rest_is_stale"] is True
    assert captured["after_full_mismatches"] == 0


def test_monitors_match_the_system_metrics(captured: dict[str, Any]) -> None:
    left, top, width, height = captured["metrics"]
    assert captured["size"] == [width, height] == [1920, 1080]
    assert captured["monitors"][0] == [-left, -top, 1920, 1080]


def test_struct_layouts_under_windows_python(captured: dict[str, Any]) -> None:
    assert captured["sizes"] == {
        "DXGI_OUTDUPL_FRAME_INFO": 48,
        "DXGI_OUTDUPL_MOVE_RECT": 24,
        "DXGI_OUTDUPL_POINTER_SHAPE_INFO": 24,
        "DXGI_OUTPUT_DESC": 96,
        "D3D11_TEXTURE2D_DESC": 44,
        "CURSORINFO": 24,
        "ICONINFO": 32,
        "BITMAPINFOHEADER": 40,
        "MONITORINFO": 40,
    }


def test_cursor_shapes_have_a_hotspot_alpha_and_change(captured: dict[str, Any]) -> None:
    cursors = captured["cursors"]
    assert [c["name"] for c in cursors] == ["arrow", "ibeam", "hand"]
    for c in cursors:
        assert c["got"] is not None, c
        w, h, hot_x, hot_y, x, y = c["got"]
        assert 8 <= w <= 256 and 8 <= h <= 256 and 0 <= hot_x < w and 0 <= hot_y < h, c
        assert c["opaque"] > 10, c
        assert (x, y) == (100 + 200 + 1, 120 + 150), c  # the hotspot where SetCursorPos put it
    assert len({c["digest"] for c in cursors}) == 3
    assert captured["cursor_again"] is False


def test_gdi_full_frame_rate(captured: dict[str, Any]) -> None:
    print(f"\nGDI BitBlt 1920x1080 under Wine: {captured['fps']:.1f} frames/s")
    assert captured["fps"] > 0


def test_dxgi_vtables_up_to_the_refused_duplication(wine: WinePython) -> None:
    got = wine.run("dxgi_probe.py", timeout=120)
    assert got.get("error") is None, got.get("traceback")
    print(f"\nDXGI under Wine: outputs {got['outputs']}, DuplicateOutput -> {got['duplicate']}")
    assert [o[1:] for o in got["outputs"]] == [[0, 0, 1920, 1080, 1]]  # DesktopCoordinates, ROTATION_IDENTITY
    assert got["duplicate"] == "DuplicateOutput: E_NOTIMPL"
    assert got["texture_size"] == [53, 37]
    assert got["round_trip_exact"] is True
    assert got["area_exact"] is True
