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
from Xlib.ext import record
from Xlib.protocol import rq

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
    """Records every key and button event the X server processes (the RECORD extension: what the
    host receives, even keys a window manager grabs, like openbox's Print), and shows a window
    that takes the keyboard focus so that test keys land nowhere else."""

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
            event_mask=X.KeyPressMask | X.ButtonPressMask,
        )
        self.window.map()
        self.d.sync()
        self.events: list[XEvent] = []
        self._lock = threading.Lock()
        self._record_d = display.Display(display_name)
        self._context = self.d.record_create_context(
            0,
            [record.AllClients],
            [
                {
                    "core_requests": (0, 0),
                    "core_replies": (0, 0),
                    "ext_requests": (0, 0, 0, 0),
                    "ext_replies": (0, 0, 0, 0),
                    "delivered_events": (0, 0),
                    "device_events": (X.KeyPress, X.ButtonRelease),
                    "errors": (0, 0),
                    "client_started": False,
                    "client_died": False,
                }
            ],
        )
        self.d.sync()
        self._thread = threading.Thread(target=self._run, name="x-recorder", daemon=True)
        self._thread.start()

    def focus(self, timeout: float = 3.0) -> None:
        """Take the keyboard focus, and wait until the server says so: keys meant for this window must
        not land in the desktop's terminal (where an earlier test's keys left a half-typed line)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self.window.raise_window()
                self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
                self.d.sync()
                focused = self.d.get_input_focus().focus
            if focused == self.window:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the recorder window did not get the keyboard focus ({focused})")
            time.sleep(0.05)

    def _run(self) -> None:
        self._record_d.record_enable_context(self._context, self._on_record)  # returns when disabled

    def _on_record(self, reply: object) -> None:
        if reply.category != record.FromServer or reply.client_swapped or not reply.data:  # type: ignore[attr-defined]
            return
        data = reply.data  # type: ignore[attr-defined]
        while len(data):
            event, data = rq.EventField(None).parse_binary_value(data, self._record_d.display, None, None)
            if event.type in (X.KeyPress, X.KeyRelease):
                kind = "press" if event.type == X.KeyPress else "release"
                keysym = self._record_d.keycode_to_keysym(event.detail, 0)
                with self._lock:
                    self.events.append(XEvent(kind, event.detail, event.state, keysym))
            elif event.type == X.ButtonPress:
                with self._lock:
                    self.events.append(XEvent("button", event.detail, event.state, 0))

    def take(self) -> list[XEvent]:
        with self._lock:
            # The server sends recorded data when it flushes its output; a round trip makes it do so.
            self.d.sync()
        time.sleep(0.005)
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
        with self._lock:
            self.d.record_disable_context(self._context)
            self.d.sync()
        self._thread.join(5)
        with self._lock:
            self.d.record_free_context(self._context)
            self.window.destroy()
            self.d.close()
        self._record_d.close()
