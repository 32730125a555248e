"""Scroll detection on frames captured from a real Xvfb: a terminal pager scrolled by keys
(positive), typing without scrolling (negative), and a scrolling window beside another one
that changes in the same rows (partial window)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest

from jiseki.agent.capture.x11 import X11Capture
from jiseki.agent.encode.stream import DisplayStream
from jiseki.demo.desktop import XTERM_FONT, VirtualDesktop
from jiseki.demo.processes import ProcessGroup
from jiseki.protocol import Ack, CopyOp, FillOp, ImageOp, Update

from ..unit.test_encode import decode_image

pytestmark = pytest.mark.skipif(
    any(shutil.which(p) is None for p in ("Xvfb", "openbox", "xterm", "xdotool")), reason="needs Xvfb, xterm, xdotool"
)

W, H = 1280, 720


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualDesktop]:
    group = ProcessGroup()
    d = VirtualDesktop(group, W, H)
    text = tmp_path_factory.mktemp("doc") / "doc.txt"
    text.write_text(
        "".join(f"{i:5d}  line of a long document, {'abcdefghij'[i % 10] * (i % 50)}\n" for i in range(2000))
    )
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        d.start_x()
        group.start("openbox", ["openbox"], env=d.env(), **quiet)
        time.sleep(0.5)
        group.start(
            "pager",
            ["xterm", *XTERM_FONT, "-geometry", "70x30+10+10", "-title", "pager", "-e", "less", str(text)],
            env=d.env(),
            **quiet,
        )
        group.start(
            "shell",
            ["xterm", *XTERM_FONT, "-geometry", "50x30+680+10", "-title", "shell", "-e", "sh"],
            env=d.env(),
            **quiet,
        )
        time.sleep(1.5)
        yield d
    finally:
        group.stop_all()


def key(d: VirtualDesktop, window: str, *keys: str) -> None:
    wid = subprocess.run(["xdotool", "search", "--name", window], env=d.env(), capture_output=True, text=True)
    subprocess.run(["xdotool", "windowactivate", "--sync", wid.stdout.split()[0]], env=d.env(), check=True)
    subprocess.run(["xdotool", "key", "--delay", "30", *keys], env=d.env(), check=True)
    time.sleep(0.5)


def apply_update(canvas: np.ndarray, update: Update) -> None:
    for op in update.ops:
        if isinstance(op, CopyOp):
            block = canvas[op.sy : op.sy + op.h, op.sx : op.sx + op.w].copy()
            canvas[op.dy : op.dy + op.h, op.dx : op.dx + op.w] = block
        elif isinstance(op, FillOp):
            canvas[op.y : op.y + op.h, op.x : op.x + op.w] = (op.r, op.g, op.b)
        elif isinstance(op, ImageOp):
            canvas[op.y : op.y + op.h, op.x : op.x + op.w] = decode_image(op)


def step(desktop: VirtualDesktop, action) -> tuple[Update | None, np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Capture, act, capture again: the update between the two frames, and both frames (RGB)."""
    cap = X11Capture(desktop.display)
    try:
        before = cap.grab().copy()
        stream = DisplayStream(W, H)
        first = stream.next_update(before, 0.0)
        assert first is not None
        stream.on_ack(Ack(first.seq, 1), 0.0)
        action()
        after = cap.grab().copy()
        return stream.next_update(after, 1.0), before[..., 2::-1].copy(), after[..., 2::-1].copy()
    finally:
        cap.close()


def test_pager_scrolled_by_keys_is_one_copy(desktop: VirtualDesktop) -> None:
    update, before, after = step(desktop, lambda: key(desktop, "^pager$", "j", "j", "j"))
    assert update is not None
    copies = [op for op in update.ops if isinstance(op, CopyOp)]
    assert len(copies) == 1
    c = copies[0]
    assert c.dx == c.sx and c.dy < c.sy  # content moved up, straight
    assert c.h > 300  # most of the 30-line window
    canvas = before.copy()
    apply_update(canvas, update)
    assert np.array_equal(canvas, after)  # text is lossless: exactly the host's frame


def test_typing_is_not_a_scroll(desktop: VirtualDesktop) -> None:
    update, before, after = step(desktop, lambda: key(desktop, "^shell$", "e", "c", "h", "o"))
    assert update is not None
    assert not any(isinstance(op, CopyOp) for op in update.ops)
    canvas = before.copy()
    apply_update(canvas, update)
    assert np.array_equal(canvas, after)


def test_partial_window_scrolls_beside_a_changing_one(desktop: VirtualDesktop) -> None:
    def both() -> None:
        key(desktop, "^shell$", "Return", "Return", "Return")  # the shell window changes in the same rows
        key(desktop, "^pager$", "j", "j")

    update, before, after = step(desktop, both)
    assert update is not None
    copies = [op for op in update.ops if isinstance(op, CopyOp)]
    assert len(copies) == 1
    assert copies[0].sx + copies[0].w <= 680  # only the pager's columns
    canvas = before.copy()
    apply_update(canvas, update)
    assert np.array_equal(canvas, after)
