"""XShmGetImage read in place: the grabbed pixels straight from mss's shared-memory segment.

mss copies its segment into a new bytearray on every grab and the capture then copies that into
its frame: two copies of the damaged area per look (~0.15 ms for 700x800, ~0.6 ms for 1080p).
Reading the segment in place leaves one. This uses mss internals (its XCB bindings, segment and
root drawable); `attach` checks each of them and gives None on anything unexpected (another mss
version, no MIT-SHM), and the capture keeps mss's public `grab`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ALL_PLANES = 0xFFFFFFFF


class ShmReader:
    def __init__(self, impl: Any, xcb: Any) -> None:
        self._impl = impl
        self._xcb = xcb
        self._pixels = np.frombuffer(impl._buf, dtype=np.uint8)  # read-only view of the segment
        self.depth = impl.drawable_depth

    @classmethod
    def attach(cls, sct: Any) -> ShmReader | None:
        """A reader over `sct`'s segment once mss has used XShmGetImage successfully, else None."""
        try:
            from mss.linux import xcb
            from mss.linux.xshmgetimage import MSSImplXShmGetImage, ShmStatus
        except ImportError:
            return None
        impl = getattr(sct, "_impl", None)
        if not isinstance(impl, MSSImplXShmGetImage) or getattr(impl, "shm_status", None) != ShmStatus.AVAILABLE:
            return None
        needed = ("conn", "drawable", "drawable_depth", "_shmseg", "_buf", "_bufsize")
        if any(getattr(impl, name, None) is None for name in needed) or not hasattr(xcb, "shm_get_image"):
            return None
        try:
            return cls(impl, xcb)
        except (TypeError, ValueError):
            return None

    def read(self, x: int, y: int, w: int, h: int) -> np.ndarray | None:
        """The (h, w, 4) BGRA pixels at (x, y) of the root window: a view of the segment, valid until
        the next read. None if the area does not fit the segment or the reply is not as expected."""
        if w * h * 4 > self._impl._bufsize:
            return None
        reply = self._xcb.shm_get_image(
            self._impl.conn,
            self._impl.drawable,
            x,
            y,
            w,
            h,
            ALL_PLANES,
            self._xcb.ImageFormat.ZPixmap,
            self._impl._shmseg,
            0,
        )
        if reply.depth != self.depth:
            return None
        return self._pixels[: w * h * 4].reshape(h, w, 4)

    def close(self) -> None:
        """Drop the view, so that mss can unmap its segment."""
        self._pixels = np.empty(0, dtype=np.uint8)
