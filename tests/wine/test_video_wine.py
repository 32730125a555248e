"""The video encoder (PyAV, issue 16) on Windows CPython 3.13 under Wine: the wheel the MSI bundles."""

from __future__ import annotations

from .harness import WinePython


def test_pyav_encodes_h264_and_vp8_under_windows_python(wine: WinePython) -> None:
    got = wine.run("video_probe.py")
    assert got.get("error") is None, got.get("traceback")
    assert got["available"] == ["H264", "VP8"]
    for codec in ("H264", "VP8"):
        figures = got[codec]
        assert figures["first_keyframe"] is True and figures["keyframes"] >= 1
        assert figures["max_error"] < 20, figures  # decodes to about the source (the first picture is the coarsest)
    print(f"PyAV {got['version']} under Wine: import {got['import_s']} s, H.264 {got['H264']}, VP8 {got['VP8']}")
