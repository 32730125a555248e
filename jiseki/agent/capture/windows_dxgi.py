"""Windows capture by DXGI Desktop Duplication: one duplication per output, composed into the
virtual-screen frame at each output's DesktopCoordinates.

Dirty rects are the damage, move rects become `MoveHint`s, the pointer's position and shape come with
the frames. DXGI_ERROR_ACCESS_LOST (mode change, desktop switch, full-screen application) re-creates
the duplications and reports full damage once; a timed-out AcquireNextFrame means nothing changed.
The Win32 calls sit behind the protocols below so that the unit tests drive it with fakes (Wine lacks
DuplicateOutput: docs/windows.md).
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from jiseki.protocol import Monitor, Rect

from ..encode.rects import union
from ..win32.dxgi import (
    DXGI_MODE_ROTATION_IDENTITY,
    DXGI_MODE_ROTATION_UNSPECIFIED,
    DXGI_OUTDUPL_POINTER_SHAPE_TYPE_COLOR,
    DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MASKED_COLOR,
    DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MONOCHROME,
    AccessLost,
    DuplicatedFrame,
    OutputInfo,
    PointerShape,
    rotate_image,
    rotate_rect,
)
from ..win32.gdi import CursorBitmap, cursor_rgba, masked_rgba, unpack_bits
from .base import CursorImage, MoveHint
from .windows_gdi import HIDDEN, GdiApi, clip, cursor_image, intersect, monitor_list

log = logging.getLogger(__name__)

PRIME_TIMEOUT_MS = 100  # waits for each output's first (whole-desktop) image after DuplicateOutput
PRIME_TRIES = 5
MAX_DIRTY = 256  # more rects than this between two damage() calls are merged into their union
MAX_MOVES = 32  # more moves than this are dropped (hints only: the encoder still finds them)


class Duplication(Protocol):
    """One output's desktop duplication: `win32.dxgi.Win32Duplication`."""

    info: OutputInfo

    def acquire(self, timeout_ms: int) -> DuplicatedFrame | None:
        """The changes of the next frame; None when none came within the timeout. Raises AccessLost."""
        ...

    def read(self, area: Rect | None = None) -> np.ndarray | None:
        """The last image (or `area` of it), in the output's unrotated pixels; None before the first."""
        ...

    def close(self) -> None: ...


class DxgiApi(Protocol):
    """`win32.dxgi.Win32Dxgi`."""

    def outputs(self) -> list[OutputInfo]: ...
    def duplicate(self, index: int) -> Duplication: ...
    def close(self) -> None: ...


def pointer_bitmap(shape: PointerShape) -> CursorBitmap | None:
    """A DXGI pointer shape as straight-alpha RGBA."""
    w, h, pitch = shape.w, shape.h, shape.pitch
    if w < 1 or h < 1 or len(shape.data) < pitch * h:
        return None
    if shape.type == DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MONOCHROME:
        h //= 2  # the AND mask above the XOR mask
        bits = unpack_bits(shape.data, w, 2 * h, pitch)
        rgba = cursor_rgba(None, bits[:h], bits[h:])
    else:
        bgra = np.frombuffer(shape.data, dtype=np.uint8, count=pitch * h).reshape(h, pitch)[:, : w * 4]
        bgra = bgra.reshape(h, w, 4)
        if shape.type == DXGI_OUTDUPL_POINTER_SHAPE_TYPE_COLOR:
            rgba = np.ascontiguousarray(bgra[..., [2, 1, 0, 3]])
        elif shape.type == DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MASKED_COLOR:
            rgba = masked_rgba(bgra, bgra[..., 3] == 0xFF)  # alpha 0xFF: XOR with the screen
        else:
            return None
    return CursorBitmap(w, h, min(max(shape.hot_x, 0), w - 1), min(max(shape.hot_y, 0), h - 1), rgba.tobytes())


class DxgiCapture:
    method = "dxgi"
    fallback_reason: str | None = None

    def __init__(self, dxgi: DxgiApi, gdi: GdiApi) -> None:
        self._dxgi = dxgi
        self._gdi = gdi
        self._left, self._top, self.width, self.height = gdi.virtual_screen()
        self._frame = np.zeros((self.height, self.width, 4), dtype=np.uint8)
        self._dupls: list[Duplication] = []
        self._has_image: list[bool] = []
        self._dirty: list[Rect] | None = None  # None: everything (the first frame, after ACCESS_LOST)
        self._moves: list[MoveHint] = []
        self._lost = False
        self._pointer = (0, 0)
        self._visible = True
        self._pointer_owner: int | None = None
        self._shape: CursorBitmap | None = None
        self._cursor_changed = False
        self._open()

    # ---- duplications ----------------------------------------------------------------------

    def _open(self) -> None:
        outputs = self._dxgi.outputs()
        if not outputs:
            raise OSError("EnumOutputs: no output attached to the desktop")
        try:
            for index in range(len(outputs)):
                self._dupls.append(self._dxgi.duplicate(index))
        except BaseException:
            self._close_duplications()
            raise
        self._has_image = [False] * len(self._dupls)
        self._dirty = None
        for _ in range(PRIME_TRIES):  # the first frame of a new duplication is the whole desktop
            self._poll(PRIME_TIMEOUT_MS, only_missing=True)
            if self._lost or all(self._has_image):
                break

    def _close_duplications(self) -> None:
        for dupl in self._dupls:
            try:
                dupl.close()
            except OSError as exc:
                log.debug("closing a duplication: %s", exc)
        self._dupls = []

    def _recreate(self) -> bool:
        """After ACCESS_LOST: new duplications (they fail while the secure desktop is shown: retried)."""
        self._close_duplications()
        self._lost = False
        try:
            self._open()
        except OSError as exc:
            self._lost = True
            log.debug("desktop duplication not available again yet: %s", exc)
            return False
        if self._lost:
            return False
        log.info("desktop duplication re-created after ACCESS_LOST")
        return True

    def _offset(self, info: OutputInfo) -> tuple[int, int]:
        return info.desktop.x - self._left, info.desktop.y - self._top

    def _add_dirty(self, rect: Rect) -> None:
        r = clip(rect, self.width, self.height)
        if r is None or self._dirty is None:
            return
        self._dirty.append(r)
        if len(self._dirty) > MAX_DIRTY:
            self._dirty = [union(self._dirty)]

    def _poll(self, timeout_ms: int = 0, *, only_missing: bool = False) -> None:
        """Take what each output reported since the last look (AcquireNextFrame with no wait)."""
        if self._lost:
            return
        for index, dupl in enumerate(self._dupls):
            if only_missing and self._has_image[index]:
                continue
            try:
                frame = dupl.acquire(timeout_ms)
            except AccessLost as exc:
                log.info("desktop duplication lost (%s): re-creating it", exc)
                self._lost = True
                return
            if frame is not None:
                self._take(index, dupl.info, frame)

    def _take(self, index: int, info: OutputInfo, frame: DuplicatedFrame) -> None:
        ox, oy = self._offset(info)
        rotated = info.rotation not in (DXGI_MODE_ROTATION_IDENTITY, DXGI_MODE_ROTATION_UNSPECIFIED)
        if frame.image:
            self._has_image[index] = True
            rects = [*frame.dirty, *(m.dest for m in frame.moves)]  # moved areas are not in the dirty rects
            if not rects:
                rects = [Rect(0, 0, info.desktop.w, info.desktop.h)]
            elif rotated:
                # The image is the unrotated scan-out; the output as seen is desktop.w x desktop.h.
                rects = [rotate_rect(r, info.rotation, info.desktop.w, info.desktop.h) for r in rects]
            for r in rects:
                self._add_dirty(Rect(r.x + ox, r.y + oy, r.w, r.h))
            if not rotated and self._dirty is not None:
                for m in frame.moves:
                    src = Rect(m.src_x + ox, m.src_y + oy, m.dest.w, m.dest.h)
                    self._moves.append(MoveHint(src, m.dest.x - m.src_x, m.dest.y - m.src_y))
                if len(self._moves) > MAX_MOVES:
                    self._moves = []
        if frame.pointer is not None:
            x, y, visible = frame.pointer
            if visible:
                self._pointer = (x + ox, y + oy)
                self._visible = True
                self._pointer_owner = index
                self._cursor_changed = True
            elif self._pointer_owner in (index, None) and self._visible:
                self._visible = False  # it left this output for none (hidden), not for another
                self._cursor_changed = True
        if frame.shape is not None:
            bitmap = pointer_bitmap(frame.shape)
            if bitmap is not None:
                self._shape = bitmap
                self._cursor_changed = True

    # ---- Capture ---------------------------------------------------------------------------

    def grab(self, area: Rect | None = None) -> np.ndarray:
        whole = Rect(0, 0, self.width, self.height)
        want = whole if area is None else clip(area, self.width, self.height)
        if want is None:
            return self._frame
        for index, dupl in enumerate(self._dupls):
            if not self._has_image[index]:
                continue
            info = dupl.info
            ox, oy = self._offset(info)
            part = intersect(want, Rect(ox, oy, info.desktop.w, info.desktop.h))
            if part is None:
                continue
            local = Rect(part.x - ox, part.y - oy, part.w, part.h)
            if info.rotation in (DXGI_MODE_ROTATION_IDENTITY, DXGI_MODE_ROTATION_UNSPECIFIED):
                pixels = dupl.read(local)
            else:
                image = dupl.read(None)
                pixels = None if image is None else rotate_image(image, info.rotation)[local.y :, local.x :]
            if pixels is None:
                continue
            self._frame[part.y : part.y + part.h, part.x : part.x + part.w] = pixels[: part.h, : part.w]
        return self._frame

    def monitors(self) -> list[Monitor]:
        return monitor_list(self._gdi.monitors(), self._left, self._top, self.width, self.height)

    def fileno(self) -> int | None:
        return None  # the ProactorEventLoop cannot add_reader: the session polls

    def damage(self) -> list[Rect] | None:
        self._poll()
        if self._lost:
            if not self._recreate():
                self._moves = []
                return []  # nothing can be read meanwhile (e.g. the secure desktop): the last frame stays
        dirty, self._dirty = self._dirty, []
        if dirty is None:
            self._moves = []
        return dirty

    def moves(self) -> list[MoveHint]:
        moves, self._moves = self._moves, []
        return moves

    def cursor(self) -> CursorImage | None:
        self._poll()
        if not self._cursor_changed:
            return None
        if self._shape is None:  # no shape has come with the frames yet: ask GDI once
            state = self._gdi.cursor_state()
            self._shape = self._gdi.cursor_bitmap(state.handle) if state is not None and state.handle else None
            if self._shape is None:
                return None
        self._cursor_changed = False
        x, y = self._pointer
        return cursor_image(self._shape if self._visible else HIDDEN, x, y)

    def pending(self) -> bool:
        return False

    def close(self) -> None:
        self._close_duplications()
        self._dxgi.close()
        self._gdi.close()
