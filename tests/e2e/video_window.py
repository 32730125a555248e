"""A window playing moving pictures (photographic, about 25 frames a second), drawn
with python-xlib: `python -m tests.e2e.video_window X Y W H [SECONDS] [FPS]` on the test desktop.

After SECONDS (default 10) it stops on its last picture and only redraws on Expose, so a test can
check that the viewer ends exactly equal to the screen. It prints `frames N` when it stops.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from Xlib import X, display

PAN_X, PAN_Y = 3, 2  # pixels the two layers move per frame, each its own way


def layers(w: int, h: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Two photographic layers, one panning sideways and one downwards: their blend is no simple
    translation (which the agent would send as a COPY), like real video (BGRX, uint16 halves)."""
    rng = np.random.default_rng(11)
    wide, tall = w + frames * PAN_X, h + frames * PAN_Y
    yy, xx = np.mgrid[0:h, 0:wide].astype(np.float32)
    a = np.zeros((h, wide, 4), dtype=np.uint16)
    a[..., 0] = 127 + 110 * np.sin(xx / 29.0) * np.cos(yy / 37.0)
    a[..., 1] = 127 + 110 * np.sin((xx + 2 * yy) / 53.0)
    a[..., 2] = np.clip(127 + 100 * np.cos(xx / 71.0) + rng.normal(0, 6, (h, wide)), 0, 255)
    yy, xx = np.mgrid[0:tall, 0:w].astype(np.float32)
    b = np.zeros((tall, w, 4), dtype=np.uint16)
    b[..., 0] = 127 + 110 * np.cos(yy / 19.0)
    b[..., 1] = np.clip(127 + 100 * np.sin((xx - yy) / 43.0) + rng.normal(0, 6, (tall, w)), 0, 255)
    b[..., 2] = 127 + 110 * np.sin(xx / 61.0) * np.sin(yy / 27.0)
    return a, b


def picture(a: np.ndarray, b: np.ndarray, i: int, w: int, h: int) -> bytes:
    mixed = (a[:, i * PAN_X : i * PAN_X + w] + b[i * PAN_Y : i * PAN_Y + h]) >> 1
    return mixed.astype(np.uint8).tobytes()


def main() -> None:
    x, y, w, h = (int(v) for v in sys.argv[1:5])
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
    fps = float(sys.argv[6]) if len(sys.argv) > 6 else 25.0
    count = max(1, int(seconds * fps))
    a, b = layers(w, h, count)
    d = display.Display()
    screen = d.screen()
    win = screen.root.create_window(
        x, y, w, h, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
        background_pixel=screen.black_pixel, event_mask=X.ExposureMask,
    )  # fmt: skip
    win.set_wm_name("video")
    gc = win.create_gc()
    win.map()
    rows = max(1, 65536 // (w * 4))  # PutImage requests must stay under the server's size limit

    def draw(i: int) -> None:
        data = picture(a, b, i, w, h)
        for top in range(0, h, rows):
            n = min(rows, h - top)
            win.put_image(gc, 0, top, w, n, X.ZPixmap, screen.root_depth, 0, data[top * w * 4 : (top + n) * w * 4])
        d.flush()

    # Wait for the window to be shown before playing.
    while d.next_event().type != X.Expose:
        pass
    start = time.monotonic()
    shown = 0
    for i in range(count):
        due = start + i / fps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1 / fps:
            continue  # late: skip a picture, as a player does
        draw(i)
        shown += 1
    last = count - 1
    print(f"frames {shown}", flush=True)
    while True:
        ev = d.next_event()
        if ev.type == X.Expose and ev.count == 0:
            draw(last)


if __name__ == "__main__":
    main()
