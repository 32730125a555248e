"""A window showing a photographic picture (smooth colour gradients and noise), drawn with
python-xlib: run as `python -m tests.e2e.photo_window X Y W H` on the test desktop."""

from __future__ import annotations

import sys

import numpy as np
from Xlib import X, display


def picture(w: int, h: int) -> bytes:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 4), dtype=np.uint8)
    img[..., 0] = (127 + 120 * np.sin(xx / 23.0) * np.cos(yy / 31.0)).astype(np.uint8)
    img[..., 1] = (127 + 120 * np.sin((xx + yy) / 41.0)).astype(np.uint8)
    img[..., 2] = np.clip(xx * 255 / w + rng.normal(0, 12, (h, w)), 0, 255).astype(np.uint8)
    img[..., 3] = 0
    return img.tobytes()  # BGRX, the server's 24-bit ZPixmap layout on Xvfb


def main() -> None:
    x, y, w, h = (int(v) for v in sys.argv[1:5])
    d = display.Display()
    screen = d.screen()
    win = screen.root.create_window(
        x,
        y,
        w,
        h,
        0,
        screen.root_depth,
        X.InputOutput,
        X.CopyFromParent,
        background_pixel=screen.black_pixel,
        event_mask=X.ExposureMask,
    )
    win.set_wm_name("photo")
    gc = win.create_gc()
    data = picture(w, h)
    win.map()
    rows = max(1, 65536 // (w * 4))  # PutImage requests must stay under the server's size limit
    while True:
        ev = d.next_event()
        if ev.type == X.Expose and ev.count == 0:
            for top in range(0, h, rows):
                n = min(rows, h - top)
                win.put_image(gc, 0, top, w, n, X.ZPixmap, screen.root_depth, 0, data[top * w * 4 : (top + n) * w * 4])
            d.flush()


if __name__ == "__main__":
    main()
