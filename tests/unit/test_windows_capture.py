"""The Windows capture backends against fake DXGI and GDI APIs (Wine has no Desktop Duplication: the
GDI path runs for real in tests/wine/test_capture_wine.py)."""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable

import numpy as np
import pytest

from jiseki.agent.capture.base import MoveHint
from jiseki.agent.capture.windows import (
    DxgiCapture,
    GdiCapture,
    open_windows_capture,
    pointer_bitmap,
)
from jiseki.agent.win32 import dxgi, gdi
from jiseki.agent.win32.dxgi import (
    DXGI_MODE_ROTATION_IDENTITY,
    DXGI_MODE_ROTATION_ROTATE90,
    DXGI_MODE_ROTATION_ROTATE180,
    DXGI_MODE_ROTATION_ROTATE270,
    DXGI_OUTDUPL_POINTER_SHAPE_TYPE_COLOR,
    DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MASKED_COLOR,
    DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MONOCHROME,
    E_NOTIMPL,
    AccessLost,
    DuplicatedFrame,
    DxgiError,
    MoveRect,
    OutputInfo,
    PointerShape,
    rotate_image,
    rotate_rect,
)
from jiseki.agent.win32.gdi import CursorBitmap, CursorState, MonitorArea, cursor_rgba
from jiseki.protocol import Monitor, Rect

Script = list[DuplicatedFrame | Exception | None]


class FakeDuplication:
    def __init__(self, info: OutputInfo, colour: int, script: Script) -> None:
        self.info = info
        self.image = np.full((info.desktop.h, info.desktop.w, 4), colour, dtype=np.uint8)
        self.script = script  # shared with the fake API: what the next acquires return
        self.primed = False
        self.closed = False
        self.reads: list[Rect | None] = []

    def acquire(self, timeout_ms: int) -> DuplicatedFrame | None:
        if not self.primed:  # a new duplication starts with the whole desktop
            self.primed = True
            return DuplicatedFrame(True, [], [])
        if not self.script:
            return None  # DXGI_ERROR_WAIT_TIMEOUT
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def read(self, area: Rect | None = None) -> np.ndarray | None:
        self.reads.append(area)
        if area is None:
            return self.image.copy()
        return self.image[area.y : area.y + area.h, area.x : area.x + area.w].copy()

    def close(self) -> None:
        self.closed = True


class FakeDxgi:
    def __init__(self, outputs: list[tuple[OutputInfo, int]], fail: Exception | None = None) -> None:
        self._outputs = outputs
        self.fail = fail
        self.scripts: list[Script] = [[] for _ in outputs]
        self.created: list[FakeDuplication] = []
        self.closed = False

    def outputs(self) -> list[OutputInfo]:
        return [info for info, _ in self._outputs]

    def duplicate(self, index: int) -> FakeDuplication:
        if self.fail is not None:
            raise self.fail
        info, colour = self._outputs[index]
        dupl = FakeDuplication(info, colour, self.scripts[index])
        self.created.append(dupl)
        return dupl

    def close(self) -> None:
        self.closed = True


class FakeDib:
    def __init__(self, screen: np.ndarray, left: int, top: int) -> None:
        self.screen = screen  # the "real" screen, in virtual-screen pixels (index = coordinate - origin)
        self.origin = (left, top)
        self.pixels = np.zeros_like(screen)
        self.blits: list[tuple[int, int, int, int, int, int]] = []

    def blit(self, x: int, y: int, w: int, h: int, src_x: int, src_y: int) -> bool:
        self.blits.append((x, y, w, h, src_x, src_y))
        sx, sy = src_x - self.origin[0], src_y - self.origin[1]
        self.pixels[y : y + h, x : x + w] = self.screen[sy : sy + h, sx : sx + w]
        return True

    def close(self) -> None:
        pass


class FakeGdi:
    def __init__(self, screen: tuple[int, int, int, int] = (0, 0, 1920, 1080)) -> None:
        self.screen = screen
        self.areas = [MonitorArea(*screen, primary=True)]
        self.pixels = np.zeros((screen[3], screen[2], 4), dtype=np.uint8)
        self.dib: FakeDib | None = None
        self.cursor: CursorState | None = CursorState(0x10003, 100, 200)
        self.bitmaps = {0x10003: CursorBitmap(2, 2, 1, 0, bytes(range(16)))}
        self.bitmap_calls = 0
        self.closed = False

    def virtual_screen(self) -> tuple[int, int, int, int]:
        return self.screen

    def monitors(self) -> list[MonitorArea]:
        return self.areas

    def screen_dib(self, width: int, height: int) -> FakeDib:
        self.dib = FakeDib(self.pixels, self.screen[0], self.screen[1])
        return self.dib

    def cursor_state(self) -> CursorState | None:
        return self.cursor

    def cursor_bitmap(self, handle: int) -> CursorBitmap | None:
        self.bitmap_calls += 1
        return self.bitmaps.get(handle)

    def close(self) -> None:
        self.closed = True


def one_output() -> tuple[FakeDxgi, DxgiCapture]:
    api = FakeDxgi([(OutputInfo("\\\\.\\DISPLAY1", Rect(0, 0, 1920, 1080), DXGI_MODE_ROTATION_IDENTITY, 0), 7)])
    capture = DxgiCapture(api, FakeGdi())
    assert capture.damage() is None  # the first frame: everything
    return api, capture


# ---- DXGI -------------------------------------------------------------------------------


def test_dirty_rects_become_damage_and_a_timeout_is_no_damage() -> None:
    api, capture = one_output()
    assert capture.method == "dxgi" and capture.fallback_reason is None and capture.fileno() is None
    assert capture.damage() == []  # AcquireNextFrame timed out: nothing changed
    api.scripts[0].append(DuplicatedFrame(True, [Rect(10, 20, 30, 40), Rect(500, 0, 8, 8)], []))
    assert capture.damage() == [Rect(10, 20, 30, 40), Rect(500, 0, 8, 8)]
    assert capture.moves() == []
    api.scripts[0].append(DuplicatedFrame(False, [], [], pointer=(3, 4, True)))  # only the mouse moved
    assert capture.damage() == []


def test_move_rects_become_hints_and_their_destination_damage() -> None:
    api, capture = one_output()
    scroll = MoveRect(100, 300, Rect(100, 200, 400, 300))  # what was at y=300 is now at y=200
    api.scripts[0].append(DuplicatedFrame(True, [Rect(100, 500, 400, 100)], [scroll]))
    assert capture.damage() == [Rect(100, 500, 400, 100), Rect(100, 200, 400, 300)]
    assert capture.moves() == [MoveHint(Rect(100, 300, 400, 300), 0, -100)]
    assert capture.moves() == []  # taken


def test_access_lost_recreates_once_and_reports_full_damage() -> None:
    api, capture = one_output()
    api.scripts[0].append(AccessLost("AcquireNextFrame", dxgi.DXGI_ERROR_ACCESS_LOST))
    assert capture.damage() is None
    assert len(api.created) == 2 and api.created[0].closed and not api.created[1].closed
    assert capture.damage() == []
    assert len(api.created) == 2


def test_access_lost_while_duplication_is_refused_keeps_the_last_frame_and_retries() -> None:
    api, capture = one_output()
    api.scripts[0].append(AccessLost("AcquireNextFrame", dxgi.DXGI_ERROR_ACCESS_LOST))
    api.fail = DxgiError("DuplicateOutput", dxgi.E_ACCESSDENIED)  # the secure desktop is shown
    assert capture.damage() == []
    assert capture.damage() == []
    api.fail = None
    assert capture.damage() is None
    assert capture.damage() == []


def test_multi_monitor_composition_with_a_monitor_left_of_the_primary() -> None:
    left = OutputInfo("\\\\.\\DISPLAY2", Rect(-1280, 56, 1280, 1024), DXGI_MODE_ROTATION_IDENTITY, 0)
    primary = OutputInfo("\\\\.\\DISPLAY1", Rect(0, 0, 1920, 1080), DXGI_MODE_ROTATION_IDENTITY, 0)
    api = FakeDxgi([(left, 0x40), (primary, 0x90)])
    fake_gdi = FakeGdi((-1280, 0, 3200, 1080))
    fake_gdi.areas = [MonitorArea(-1280, 56, 1280, 1024, False), MonitorArea(0, 0, 1920, 1080, True)]
    capture = DxgiCapture(api, fake_gdi)
    assert (capture.width, capture.height) == (3200, 1080)
    assert capture.monitors() == [Monitor(1280, 0, 1920, 1080), Monitor(0, 56, 1280, 1024)]
    assert capture.damage() is None
    frame = capture.grab()
    assert (frame[56:, :1280] == 0x40).all()
    assert (frame[:56, :1280] == 0).all()  # no monitor there
    assert (frame[:, 1280:] == 0x90).all()
    api.scripts[0].append(DuplicatedFrame(True, [Rect(0, 0, 10, 10)], [], pointer=(5, 5, True)))
    api.scripts[1].append(DuplicatedFrame(False, [], [], pointer=(0, 0, False)))  # not on this one
    assert capture.damage() == [Rect(0, 56, 10, 10)]
    shape = capture.cursor()
    assert shape is not None and (shape.x, shape.y) == (5, 61)
    # An area grab reads only that part of each output, in the output's own pixels.
    for d in api.created:
        d.reads.clear()
    capture.grab(Rect(1270, 100, 20, 10))
    assert api.created[0].reads == [Rect(1270, 44, 10, 10)]
    assert api.created[1].reads == [Rect(0, 100, 10, 10)]


def test_a_rotated_output_is_turned_and_its_rects_too() -> None:
    # A portrait monitor: the image DXGI gives is the landscape scan-out (1920 wide, 1080 high).
    info = OutputInfo("\\\\.\\DISPLAY1", Rect(0, 0, 1080, 1920), DXGI_MODE_ROTATION_ROTATE90, 0)
    api = FakeDxgi([(info, 0)])
    capture = DxgiCapture(api, FakeGdi((0, 0, 1080, 1920)))
    dupl = api.created[0]
    dupl.image = np.zeros((1080, 1920, 4), dtype=np.uint8)
    dupl.image[0:10, 0:20] = 200  # the image's top-left corner
    capture.damage()
    frame = capture.grab()
    turned = rotate_image(dupl.image, DXGI_MODE_ROTATION_ROTATE90)
    assert np.array_equal(frame, turned)
    api.scripts[0].append(DuplicatedFrame(True, [Rect(0, 0, 20, 10)], []))
    assert capture.damage() == [rotate_rect(Rect(0, 0, 20, 10), DXGI_MODE_ROTATION_ROTATE90, 1080, 1920)]
    ys, xs = np.nonzero(frame[..., 0])
    assert capture_box(ys, xs) == rotate_rect(Rect(0, 0, 20, 10), DXGI_MODE_ROTATION_ROTATE90, 1080, 1920)


def capture_box(ys: np.ndarray, xs: np.ndarray) -> Rect:
    return Rect(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


@pytest.mark.parametrize(
    "rotation", [DXGI_MODE_ROTATION_ROTATE90, DXGI_MODE_ROTATION_ROTATE180, DXGI_MODE_ROTATION_ROTATE270]
)
def test_rotate_rect_agrees_with_rotate_image(rotation: int) -> None:
    image = np.zeros((60, 100, 4), dtype=np.uint8)  # unrotated: 100 wide, 60 high
    r = Rect(7, 11, 23, 5)
    image[r.y : r.y + r.h, r.x : r.x + r.w] = 1
    turned = rotate_image(image, rotation)
    h, w = turned.shape[:2]
    ys, xs = np.nonzero(turned[..., 0])
    assert capture_box(ys, xs) == rotate_rect(r, rotation, w, h)


def test_pointer_shape_and_hidden_pointer_from_the_frames() -> None:
    api, capture = one_output()
    colour = bytes([0, 0, 255, 128] * 4)  # BGRA red, half transparent, 2x2
    shape = PointerShape(DXGI_OUTDUPL_POINTER_SHAPE_TYPE_COLOR, 2, 2, 8, 1, 1, colour)
    api.scripts[0].append(DuplicatedFrame(False, [], [], pointer=(50, 60, True), shape=shape))
    got = capture.cursor()
    assert got is not None and (got.w, got.h, got.hot_x, got.hot_y, got.x, got.y) == (2, 2, 1, 1, 50, 60)
    assert got.rgba == bytes([255, 0, 0, 128] * 4)
    assert capture.cursor() is None  # unchanged
    api.scripts[0].append(DuplicatedFrame(False, [], [], pointer=(50, 60, False)))
    hidden = capture.cursor()
    assert hidden is not None and hidden.rgba == bytes(4)


def test_chooser_falls_back_to_gdi_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    screen = (0, 0, 640, 480)

    def refused() -> FakeDxgi:
        info = OutputInfo("\\\\.\\DISPLAY1", Rect(*screen), DXGI_MODE_ROTATION_IDENTITY, 0)
        return FakeDxgi([(info, 0)], fail=DxgiError("DuplicateOutput", E_NOTIMPL))

    def fake_gdi() -> FakeGdi:
        return FakeGdi(screen)

    with caplog.at_level(logging.INFO, logger="jiseki.agent.capture.windows"):
        capture = open_windows_capture(refused, fake_gdi)
        again = open_windows_capture(refused, fake_gdi)
    assert isinstance(capture, GdiCapture) and capture.method == "gdi"
    assert capture.fallback_reason == "DuplicateOutput: E_NOTIMPL" == again.fallback_reason
    assert sum("DuplicateOutput: E_NOTIMPL" in r.getMessage() for r in caplog.records) == 1  # logged once

    def no_dll() -> FakeDxgi:
        raise OSError("dxgi.dll not found")

    assert open_windows_capture(no_dll, fake_gdi).fallback_reason == "dxgi.dll not found"
    info = OutputInfo("\\\\.\\DISPLAY1", Rect(*screen), DXGI_MODE_ROTATION_IDENTITY, 0)
    working: Callable[[], FakeDxgi] = lambda: FakeDxgi([(info, 0)])  # noqa: E731
    assert open_windows_capture(working, fake_gdi).method == "dxgi"


# ---- GDI --------------------------------------------------------------------------------


def test_gdi_area_grab_writes_only_that_area() -> None:
    fake = FakeGdi((-100, -50, 400, 300))
    fake.pixels[:] = 10
    capture = GdiCapture(fake)
    assert capture.method == "gdi" and capture.damage() is None and capture.moves() == []
    first = capture.grab(Rect(0, 0, 5, 5))  # the first grab is whole, whatever the area
    assert (first == 10).all()
    fake.pixels[:] = 99
    frame = capture.grab(Rect(20, 30, 40, 50))
    assert fake.dib is not None and fake.dib.blits[-1] == (20, 30, 40, 50, -80, -20)  # screen coordinates
    assert (frame[30:80, 20:60] == 99).all()
    outside = np.ones(frame.shape[:2], dtype=bool)
    outside[30:80, 20:60] = False
    assert (frame[outside] == 10).all()
    frame = capture.grab(Rect(390, 290, 50, 50))  # clipped to the screen
    assert fake.dib.blits[-1] == (390, 290, 10, 10, 290, 240)


def test_gdi_cursor_only_on_change_of_handle_or_position() -> None:
    fake = FakeGdi((-100, 0, 400, 300))
    capture = GdiCapture(fake)
    got = capture.cursor()
    assert got is not None and (got.x, got.y, got.w, got.h, got.hot_x) == (200, 200, 2, 2, 1)
    assert capture.cursor() is None
    fake.cursor = CursorState(0x10003, 101, 200)
    moved = capture.cursor()
    assert moved is not None and moved.x == 201
    assert fake.bitmap_calls == 1  # the shape of a known handle is not read again
    fake.cursor = CursorState(0, 101, 200)  # hidden
    hidden = capture.cursor()
    assert hidden is not None and hidden.rgba == bytes(4)


# ---- cursor pixels ----------------------------------------------------------------------


def test_monochrome_cursor_masks() -> None:
    and_mask = np.array([[0, 0, 1, 1, 1]], dtype=bool)
    xor_mask = np.array([[0, 1, 0, 1, 0]], dtype=bool)
    rgba = cursor_rgba(None, and_mask, xor_mask)
    assert rgba[0, 0].tolist() == [0, 0, 0, 255]  # black
    assert rgba[0, 1].tolist() == [255, 255, 255, 255]  # white
    assert rgba[0, 3].tolist() == [0, 0, 0, 255]  # inverted screen: black...
    assert rgba[0, 2].tolist() == [255, 255, 255, 255]  # ...outlined in white
    assert rgba[0, 4].tolist() == [255, 255, 255, 255]


def test_colour_cursor_with_and_without_alpha() -> None:
    colour = np.zeros((1, 2, 4), dtype=np.uint8)
    colour[0, 0] = (10, 20, 30, 0)
    mask = np.array([[False, True]])
    assert cursor_rgba(colour, mask).tolist() == [[[30, 20, 10, 255], [0, 0, 0, 0]]]
    colour[0, 1] = (1, 2, 3, 77)  # an alpha channel: the mask is not used
    assert cursor_rgba(colour, mask)[0, 1].tolist() == [3, 2, 1, 77]


def test_dxgi_monochrome_and_masked_pointer_shapes() -> None:
    # 8x1 cursor: the AND row above the XOR row, one byte each, pitch 1.
    mono = PointerShape(DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MONOCHROME, 8, 2, 1, 0, 0, bytes([0b00001111, 0b01000001]))
    got = pointer_bitmap(mono)
    assert got is not None and (got.w, got.h) == (8, 1)
    px = np.frombuffer(got.rgba, dtype=np.uint8).reshape(8, 4)
    assert px[0].tolist() == [0, 0, 0, 255] and px[1].tolist() == [255, 255, 255, 255]
    assert px[4, 3] == 0 and px[7].tolist() == [0, 0, 0, 255]  # transparent; inverted
    masked = bytes([9, 8, 7, 0, 0, 0, 0, 0xFF])  # opaque colour, then XOR with black (transparent)
    got = pointer_bitmap(PointerShape(DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MASKED_COLOR, 2, 1, 8, 0, 0, masked))
    assert got is not None and got.rgba == bytes([7, 8, 9, 255, 0, 0, 0, 0])


# ---- layouts ----------------------------------------------------------------------------


def test_struct_layouts_are_the_x64_ones() -> None:
    assert ctypes.sizeof(ctypes.c_void_p) == 8
    sizes = {
        dxgi.DXGI_OUTDUPL_FRAME_INFO: 48,
        dxgi.DXGI_OUTDUPL_MOVE_RECT: 24,
        dxgi.DXGI_OUTDUPL_POINTER_SHAPE_INFO: 24,
        dxgi.DXGI_OUTPUT_DESC: 96,
        dxgi.DXGI_OUTDUPL_DESC: 36,
        dxgi.D3D11_TEXTURE2D_DESC: 44,
        dxgi.D3D11_MAPPED_SUBRESOURCE: 16,
        dxgi.GUID: 16,
        gdi.CURSORINFO: 24,
        gdi.ICONINFO: 32,
        gdi.BITMAPINFOHEADER: 40,
        gdi.MONITORINFO: 40,
        gdi.BITMAP: 32,
    }
    assert {cls.__name__: ctypes.sizeof(cls) for cls in sizes} == {cls.__name__: n for cls, n in sizes.items()}
    assert dxgi.DXGI_OUTDUPL_FRAME_INFO.PointerPosition.offset == 28
    assert bytes(dxgi.IID_IDXGIOutput1)[:4] == bytes.fromhex("a8decd00")


@pytest.mark.skipif(sys.platform == "win32", reason="the bindings refuse only off Windows")
def test_the_bindings_refuse_to_start_off_windows() -> None:
    with pytest.raises(OSError):
        gdi.Win32Gdi()
    with pytest.raises(OSError):
        dxgi.Win32Dxgi()
