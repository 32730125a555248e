"""open_windows_capture() on a screen showing a window of known pixels: method, pixels, area grab,
monitors, cursor shapes, and the GDI frame rate."""

from __future__ import annotations

import ctypes
import hashlib
import time

import numpy as np
from common import main
from painted_window import IDC_ARROW, IDC_HAND, IDC_IBEAM, PaintedWindow, test_picture

X, Y, W, H = 100, 120, 400, 300


def mismatches(region: np.ndarray, expected: np.ndarray) -> int:
    return int((region[..., :3] != expected[..., :3]).any(axis=2).sum())


def body() -> dict[str, object]:
    from jiseki.agent.capture.windows import open_windows_capture
    from jiseki.agent.win32 import dxgi, gdi

    window = PaintedWindow(X, Y, W, H)
    capture = open_windows_capture()
    out: dict[str, object] = {
        "method": capture.method,
        "fallback_reason": capture.fallback_reason,
        "size": [capture.width, capture.height],
        "dpi": gdi.enable_per_monitor_dpi(),
        "sizes": {
            cls.__name__: ctypes.sizeof(cls)
            for cls in (
                dxgi.DXGI_OUTDUPL_FRAME_INFO,
                dxgi.DXGI_OUTDUPL_MOVE_RECT,
                dxgi.DXGI_OUTDUPL_POINTER_SHAPE_INFO,
                dxgi.DXGI_OUTPUT_DESC,
                dxgi.D3D11_TEXTURE2D_DESC,
                gdi.CURSORINFO,
                gdi.ICONINFO,
                gdi.BITMAPINFOHEADER,
                gdi.MONITORINFO,
            )
        },
    }
    user32 = ctypes.WinDLL("user32")
    out["metrics"] = [user32.GetSystemMetrics(i) for i in (76, 77, 78, 79)]
    out["monitors"] = [[m.x, m.y, m.w, m.h] for m in capture.monitors()]

    frame = capture.grab()
    out["full_mismatches"] = mismatches(frame[Y : Y + H, X : X + W], window.picture)
    out["outside_sample"] = frame[Y - 1, X - 1].tolist()

    # Repaint with other colours; grab only the top-left quadrant's area.
    window.show(test_picture(W, H, swap=True))
    area_w, area_h = W // 2, (H - 60) // 2
    frame = capture.grab(type_rect(X, Y, area_w, area_h))
    region = frame[Y : Y + H, X : X + W]
    swapped = window.picture
    out["area_mismatches"] = mismatches(region[:area_h, :area_w], swapped[:area_h, :area_w])
    stale = test_picture(W, H)
    out["rest_is_stale"] = (
        mismatches(region[area_h:], stale[area_h:]) == 0
        and mismatches(region[:area_h, area_w:], stale[:area_h, area_w:]) == 0
    )
    frame = capture.grab()
    out["after_full_mismatches"] = mismatches(frame[Y : Y + H, X : X + W], swapped)

    # Cursors: each standard shape over the window.
    cursors = []
    capture.cursor()
    for name, idc in (("arrow", IDC_ARROW), ("ibeam", IDC_IBEAM), ("hand", IDC_HAND)):
        handle = window.set_cursor(idc)
        got = capture.cursor()
        if got is None:
            cursors.append({"name": name, "handle": handle, "got": None})
            continue
        alpha = np.frombuffer(got.rgba, dtype=np.uint8).reshape(got.h, got.w, 4)[..., 3]
        cursors.append(
            {
                "name": name,
                "handle": handle,
                "got": [got.w, got.h, got.hot_x, got.hot_y, got.x, got.y],
                "opaque": int((alpha > 0).sum()),
                "digest": hashlib.sha256(got.rgba).hexdigest()[:16],
            }
        )
    out["cursors"] = cursors
    out["cursor_again"] = capture.cursor() is not None  # unchanged: nothing to report

    # Full-screen grab rate over ~2 s.
    frames, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        capture.grab()
        frames += 1
    out["fps"] = frames / (time.perf_counter() - start)
    capture.close()
    window.close()
    return out


def type_rect(x: int, y: int, w: int, h: int) -> object:
    from jiseki.protocol import Rect

    return Rect(x, y, w, h)


main(body)
