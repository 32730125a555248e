"""Windows screen capture: DXGI Desktop Duplication when it works, GDI BitBlt otherwise.

`open_windows_capture()` tries DXGI (one duplication per output, composed into the virtual-screen
frame at each output's DesktopCoordinates) and falls back to GDI on any failure, keeping the reason
for the hello and the console (`fallback_reason`, e.g. "DuplicateOutput: E_NOTIMPL" under Wine).

- `DxgiCapture` ("dxgi", `windows_dxgi.py`): dirty rects are the damage, move rects become `MoveHint`s, the pointer's
  position and shape come with the frames. DXGI_ERROR_ACCESS_LOST (mode change, desktop switch,
  full-screen application) re-creates the duplications and reports full damage once; a timed-out
  AcquireNextFrame means nothing changed.
- `GdiCapture` ("gdi", `windows_gdi.py`): BitBlt of the virtual screen (or only the damaged area) into a DIB section;
  it cannot tell what changed (damage() is None: the encoder compares frames) and the cursor is
  polled with GetCursorInfo.

Coordinates: frames, damage, moves, monitors and the cursor count from the virtual screen's corner
(which lies at negative x or y when a monitor is left of or above the primary one), the same origin
`input.windows` uses for SendInput. The Win32 calls sit behind the protocols below so that the unit
tests drive both backends with fakes; tests/wine runs them for real (GDI only: Wine lacks DXGI).
The session polls (fileno() is None): asyncio's ProactorEventLoop on Windows cannot add_reader.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from .windows_dxgi import DxgiApi, DxgiCapture, pointer_bitmap
from .windows_gdi import GdiApi, GdiCapture

__all__ = ["DxgiCapture", "GdiCapture", "open_windows_capture", "pointer_bitmap"]

log = logging.getLogger(__name__)
_logged_reasons: set[str] = set()


def open_windows_capture(
    dxgi_factory: Callable[[], DxgiApi] | None = None, gdi_factory: Callable[[], GdiApi] | None = None
) -> DxgiCapture | GdiCapture:
    """DXGI if it works, else GDI (the reason in `fallback_reason`, logged once at INFO)."""
    from ..win32.dxgi import Win32Dxgi
    from ..win32.gdi import Win32Gdi, enable_per_monitor_dpi

    if sys.platform == "win32":
        enable_per_monitor_dpi()  # before the first metric is read; the agent's start does it too
    gdi = (gdi_factory or Win32Gdi)()
    try:
        dxgi = (dxgi_factory or Win32Dxgi)()
        try:
            return DxgiCapture(dxgi, gdi)
        except BaseException:
            dxgi.close()
            raise
    except Exception as exc:  # any failure: GDI works wherever a desktop can be read at all
        reason = str(exc) or type(exc).__name__
        if reason not in _logged_reasons:
            _logged_reasons.add(reason)
            log.info("DXGI desktop duplication unavailable (%s): capturing with GDI", reason)
        return GdiCapture(gdi, fallback_reason=reason)
