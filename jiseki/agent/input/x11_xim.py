"""Which typed keys an X input method server has handed back to the application (RECORD extension).

Behind an X input method (XIM: fcitx5, ibus-x11, uim) the application sends every key to the IME
server, and the server sends it back (XIM_FORWARD_EVENT) when the IME does not take it -- always,
while the IME is off. A forwarded key event (44 bytes) travels in a window property that the server
writes with ChangeProperty. Recording the servers' ChangeProperty requests therefore tells, per
keycode, how many presses and releases have come back; the application looks a key up as it
handles the one that came back. (XIM's divided-ClientMessage transport is not followed: with it, a
wait ends at its timeout.)
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import Counter
from typing import Any

from Xlib import X, display
from Xlib.error import XError
from Xlib.ext import record

log = logging.getLogger(__name__)

XIM_FORWARD_EVENT = 60
_CHANGE_PROPERTY = 18
_KEY_PRESS, _KEY_RELEASE = 2, 3
_RANGE = {
    "core_requests": (_CHANGE_PROPERTY, _CHANGE_PROPERTY),
    "core_replies": (0, 0),
    "ext_requests": (0, 0, 0, 0),
    "ext_replies": (0, 0, 0, 0),
    "delivered_events": (0, 0),
    "device_events": (0, 0),
    "errors": (0, 0),
    "client_started": False,
    "client_died": False,
}


def xim_server_windows(d: display.Display) -> list[int]:
    """Owner windows of the registered XIM servers (XIM_SERVERS) that are running."""
    prop = d.screen().root.get_full_property(d.intern_atom("XIM_SERVERS"), X.AnyPropertyType)
    if prop is None or prop.format != 32:
        return []
    owners = [d.get_selection_owner(atom) for atom in prop.value]
    # types-python-xlib says get_selection_owner returns an int; it returns a Window, or X.NONE.
    return sorted(int(w.id) for w in owners if w != X.NONE)  # type: ignore[attr-defined]


def xim_server_names(d: display.Display) -> list[str]:
    """The registered XIM servers' names ("@server=fcitx", "@server=ibus")."""
    prop = d.screen().root.get_full_property(d.intern_atom("XIM_SERVERS"), X.AnyPropertyType)
    if prop is None or prop.format != 32:
        return []
    return [d.get_atom_name(atom) for atom in prop.value]


def forwarded_keys(data: bytes, swapped: bool) -> list[tuple[int, int]]:
    """(event type, keycode) of every XIM_FORWARD_EVENT written by the ChangeProperty requests in
    `data` (recorded requests, in the recorded client's byte order)."""
    order = ">" if (swapped ^ (struct.pack("=H", 1) == b"\x00\x01")) else "<"
    found = []
    at = 0
    while at + 4 <= len(data):
        length = struct.unpack_from(order + "H", data, at + 2)[0] * 4
        if length < 4:
            break  # BIG-REQUESTS length: not a request we look into; stop rather than misread
        if data[at] == _CHANGE_PROPERTY and length >= 24 and at + 24 <= len(data) and data[at + 16] == 8:
            units = struct.unpack_from(order + "I", data, at + 20)[0]
            payload = data[at + 24 : at + min(length, 24 + units)]
            if len(payload) >= 14 and payload[0] == XIM_FORWARD_EVENT:
                found.append((payload[12] & 0x7F, payload[13]))
        at += length
    return found


class XimWatch:
    """Counts the key events XIM servers forward back, on its own two X connections (the RECORD
    data connection blocks in a thread)."""

    def __init__(self, display_name: str | None) -> None:
        self._name = display_name
        self._ctl: display.Display | None = None
        self._data: display.Display | None = None
        self._servers: list[int] = []
        self._context = 0
        self._reader: threading.Thread | None = None
        self._changed = threading.Condition()
        self.presses: Counter[int] = Counter()
        self.releases: Counter[int] = Counter()
        self.last_forward = 0.0
        self.epoch = 0  # grows whenever counting starts again from zero
        self._failed = False

    def follow(self, servers: list[int]) -> bool:
        """Record these XIM servers (restarting the counts if they changed); False if we cannot."""
        if servers == self._servers and self._reader is not None:
            return True
        self._stop()
        if not servers or self._failed:
            return False
        try:
            if self._ctl is None:
                self._ctl = display.Display(self._name)
                self._data = display.Display(self._name)
            if not self._ctl.has_extension("RECORD"):
                raise RuntimeError("no RECORD extension")
            self._context = self._ctl.record_create_context(0, servers, [_RANGE])
            self._ctl.sync()
        except (XError, RuntimeError, OSError) as exc:
            log.warning("cannot follow the X input method (%r): text waits longer between rebindings", exc)
            self._failed = True
            return False
        with self._changed:
            self.presses.clear()
            self.releases.clear()
            self.epoch += 1
        self._servers = servers
        assert self._data is not None  # opened together with _ctl above
        self._reader = threading.Thread(
            target=self._data.record_enable_context,
            args=(self._context, self._on_data),
            name="xim-watch",
            daemon=True,
        )
        self._reader.start()
        return True

    def _on_data(self, reply: Any) -> None:
        if reply.category != record.FromClient:
            return
        keys = forwarded_keys(bytes(reply.data), bool(reply.client_swapped))
        if not keys:
            return
        with self._changed:
            for kind, keycode in keys:
                if kind == _KEY_PRESS:
                    self.presses[keycode] += 1
                elif kind == _KEY_RELEASE:
                    self.releases[keycode] += 1
            self.last_forward = time.monotonic()
            self._changed.notify_all()

    def wait_until(self, done: Any, timeout: float) -> bool:
        """Until `done()` (called under the lock) is true; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
        return True

    def _stop(self) -> None:
        if self._reader is None or self._ctl is None:
            return
        try:
            self._ctl.record_disable_context(self._context)
            self._ctl.sync()
            self._reader.join(5)
            self._ctl.record_free_context(self._context)
            self._ctl.sync()
        except XError as exc:
            log.info("stopping the XIM watch: %r", exc)
        self._reader = None
        self._servers = []

    def close(self) -> None:
        self._stop()
        for d in (self._ctl, self._data):
            if d is not None:
                d.close()
        self._ctl = self._data = None
