"""Test helpers on a real X server: a private Xvfb with a chosen layout, and a window that records
the key and button events the host receives (the "small X client" of the keyboard tests)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from Xlib import XK, X, display

from jiseki.demo.desktop import VirtualDesktop
from jiseki.demo.processes import ProcessGroup


def start_xvfb(group: ProcessGroup, width: int = 1280, height: int = 800) -> VirtualDesktop:
    desktop = VirtualDesktop(group, width, height)
    desktop.start_x()
    return desktop


def set_layout(display_name: str, model: str, layout: str) -> None:
    """Works because the demo's Xvfb runs with -noreset (building-blocks §10)."""
    subprocess.run(
        ["setxkbmap", "-display", display_name, "-model", model, "-layout", layout],
        check=True,
        env={**os.environ, "DISPLAY": display_name},
        timeout=30,
    )


@dataclass(frozen=True)
class XEvent:
    kind: str  # "press", "release" or "button"
    detail: int  # keycode or button number
    state: int
    keysym: int  # level-1 keysym of the keycode (0 for buttons)

    @property
    def name(self) -> str:
        return keysym_name(self.keysym)


for _group in ("miscellany", "latin1", "xkb", "katakana", "publishing"):
    XK.load_keysym_group(_group)
_NAMES: dict[int, str] = {}
for _attr in sorted(dir(XK)):
    if _attr.startswith("XK_"):
        _NAMES.setdefault(getattr(XK, _attr), _attr[3:])


def keysym_name(keysym: int) -> str:
    """X's name of a keysym ("Zenkaku_Hankaku", "backslash"), or its hex value."""
    return _NAMES.get(keysym, f"0x{keysym:x}")


class Recorder:
    """A window that takes the keyboard focus and records what arrives, on a thread of its own."""

    def __init__(self, display_name: str, x: int = 0, y: int = 0, w: int = 400, h: int = 300) -> None:
        self.d = display.Display(display_name)
        screen = self.d.screen()
        self.window = screen.root.create_window(
            x,
            y,
            w,
            h,
            0,
            screen.root_depth,
            background_pixel=screen.white_pixel,
            override_redirect=True,  # the window manager leaves it where it is
            event_mask=X.KeyPressMask | X.KeyReleaseMask | X.ButtonPressMask | X.StructureNotifyMask,
        )
        self.window.map()
        self.d.sync()
        self.events: list[XEvent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="x-recorder", daemon=True)
        self._thread.start()

    def focus(self) -> None:
        self.window.raise_window()
        self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
        self.d.sync()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while self.d.pending_events():
                    e = self.d.next_event()
                    if e.type in (X.KeyPress, X.KeyRelease):
                        kind = "press" if e.type == X.KeyPress else "release"
                        keysym = self.d.keycode_to_keysym(e.detail, 0)
                        self.events.append(XEvent(kind, e.detail, e.state, keysym))
                    elif e.type == X.ButtonPress:
                        self.events.append(XEvent("button", e.detail, e.state, 0))
            time.sleep(0.005)

    def take(self) -> list[XEvent]:
        with self._lock:
            out, self.events = self.events, []
        return out

    def wait_for(self, done: Callable[[list[XEvent]], bool], timeout: float = 10.0) -> list[XEvent]:
        """Events until `done(events)` is true (all of them are returned and cleared)."""
        deadline = time.monotonic() + timeout
        seen: list[XEvent] = []
        while time.monotonic() < deadline:
            seen.extend(self.take())
            if done(seen):
                return seen
            time.sleep(0.01)
        raise AssertionError(f"timed out; events so far: {seen}")

    def keys_down(self) -> list[int]:
        """Keycodes the X server considers pressed right now."""
        with self._lock:
            bitmap = self.d.query_keymap()
        return [i * 8 + b for i, byte in enumerate(bitmap) for b in range(8) if byte >> b & 1]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            self.window.destroy()
            self.d.close()
