"""DXGI Desktop Duplication through ctypes COM vtables (no comtypes).

Documented APIs: CreateDXGIFactory1, IDXGIFactory1::EnumAdapters1, IDXGIAdapter::EnumOutputs,
IDXGIOutput::GetDesc, IDXGIOutput1::DuplicateOutput, D3D11CreateDevice, IDXGIOutputDuplication::
AcquireNextFrame / GetFrameDirtyRects / GetFrameMoveRects / GetFramePointerShape / ReleaseFrame,
ID3D11Device::CreateTexture2D, ID3D11DeviceContext::CopyResource / Map / Unmap.

Vtable indices are the method order of the interfaces in the Windows SDK headers (dxgi.h, dxgi1_2.h,
d3d11.h; the same order in Wine's dxgi.idl / dxgi1_2.idl / d3d11.idl), each interface continuing its
base's: IUnknown 0-2; IDXGIObject 3-6 (SetPrivateData, SetPrivateDataInterface, GetPrivateData,
GetParent); ID3D11DeviceChild 3-6 (GetDevice, GetPrivateData, SetPrivateData,
SetPrivateDataInterface). Under Wine 8 everything up to DuplicateOutput works and DuplicateOutput
returns E_NOTIMPL, so the duplication itself is tested with fakes only (docs/windows.md).
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jiseki.protocol import Rect

from .abi import RECT
from .dxgi_types import *  # noqa: F403 - the structures, constants and COM pointer of this area


@dataclass(frozen=True, slots=True)
class OutputInfo:
    name: str
    desktop: Rect  # DesktopCoordinates: virtual-screen pixels, absolute
    rotation: int
    adapter: int  # index of its adapter


@dataclass(frozen=True, slots=True)
class MoveRect:
    """DXGI_OUTDUPL_MOVE_RECT in output pixels: `dest` now shows what was at (src_x, src_y)."""

    src_x: int
    src_y: int
    dest: Rect


@dataclass(frozen=True, slots=True)
class PointerShape:
    type: int  # DXGI_OUTDUPL_POINTER_SHAPE_TYPE_*
    w: int
    h: int  # monochrome: twice the cursor's height (AND mask above the XOR mask)
    pitch: int
    hot_x: int
    hot_y: int
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class DuplicatedFrame:
    """What one AcquireNextFrame reported, in the output's own pixels (not rotated)."""

    image: bool  # a new desktop image was copied (read it with `read`)
    dirty: list[Rect]
    moves: list[MoveRect]
    pointer: tuple[int, int, bool] | None = None  # x, y, visible when the pointer moved
    shape: PointerShape | None = None


def rotate_rect(r: Rect, rotation: int, width: int, height: int) -> Rect:
    """A rectangle of a rotated output's desktop image in the output's (as seen) coordinates; width
    and height are the output's as seen. The transforms of Microsoft's DXGI desktop duplication sample."""
    left, top, right, bottom = r.x, r.y, r.x + r.w, r.y + r.h
    if rotation == DXGI_MODE_ROTATION_ROTATE90:
        left, top, right, bottom = width - bottom, left, width - top, right
    elif rotation == DXGI_MODE_ROTATION_ROTATE180:
        left, top, right, bottom = width - right, height - bottom, width - left, height - top
    elif rotation == DXGI_MODE_ROTATION_ROTATE270:
        left, top, right, bottom = top, height - right, bottom, height - left
    return Rect(left, top, right - left, bottom - top)


def rotate_image(image: np.ndarray, rotation: int) -> np.ndarray:
    """The desktop image of a rotated output turned as the monitor shows it (consistent with rotate_rect)."""
    k = {DXGI_MODE_ROTATION_ROTATE90: -1, DXGI_MODE_ROTATION_ROTATE180: 2, DXGI_MODE_ROTATION_ROTATE270: 1}.get(
        rotation, 0
    )
    return np.rot90(image, k) if k else image


class Win32Duplication:
    """One output's duplication: acquire frames, keep the last image in a staging texture, map it."""

    def __init__(self, device: ComPtr, context: ComPtr, output1: ComPtr, info: OutputInfo) -> None:
        self.info = info
        self._device = device
        self._context = context
        out = ctypes.c_void_p()
        output1.hr(
            "DuplicateOutput",
            OUTPUT1_DUPLICATE_OUTPUT,
            (ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)),
            device.ptr,
            ctypes.byref(out),
        )
        self._dupl = ComPtr(out, "IDXGIOutputDuplication")
        desc = DXGI_OUTDUPL_DESC()
        self._dupl.call(DUPL_GET_DESC, None, (ctypes.POINTER(DXGI_OUTDUPL_DESC),), ctypes.byref(desc))
        self.width, self.height = int(desc.ModeDesc.Width), int(desc.ModeDesc.Height)  # the image, unrotated
        self._staging: ComPtr | None = None
        self._rects = (RECT * 64)()
        self._moves = (DXGI_OUTDUPL_MOVE_RECT * 64)()
        self._shape = (ctypes.c_uint8 * 65536)()

    def _staging_texture(self) -> ComPtr:
        if self._staging is None:
            self._staging = create_texture(self._device, texture_desc(self.width, self.height, staging=True), None)
        return self._staging

    def _metadata(self, index: int, name: str, buffer: Any, item: type[ctypes.Structure]) -> Any:
        """Dirty or move rects, growing the buffer on DXGI_ERROR_MORE_DATA."""
        needed = UINT()
        for _ in range(2):
            hr = int(
                self._dupl.call(
                    index,
                    HRESULT,
                    (UINT, ctypes.c_void_p, ctypes.POINTER(UINT)),
                    ctypes.sizeof(buffer),
                    buffer,
                    ctypes.byref(needed),
                )
            )
            if hr & 0xFFFFFFFF != DXGI_ERROR_MORE_DATA:
                check(name, hr)
                return buffer[: needed.value // ctypes.sizeof(item)], buffer
            buffer = (item * (needed.value // ctypes.sizeof(item) + 16))()
        raise DxgiError(name, DXGI_ERROR_MORE_DATA)

    def acquire(self, timeout_ms: int) -> DuplicatedFrame | None:
        """The next frame's changes (None when nothing changed within the timeout); the image goes to
        the staging texture and the frame is released at once, so that DWM is not held up."""
        info = DXGI_OUTDUPL_FRAME_INFO()
        resource = ctypes.c_void_p()
        hr = int(
            self._dupl.call(
                DUPL_ACQUIRE_NEXT_FRAME,
                HRESULT,
                (UINT, ctypes.POINTER(DXGI_OUTDUPL_FRAME_INFO), ctypes.POINTER(ctypes.c_void_p)),
                timeout_ms,
                ctypes.byref(info),
                ctypes.byref(resource),
            )
        )
        if hr & 0xFFFFFFFF == DXGI_ERROR_WAIT_TIMEOUT:
            return None
        check("AcquireNextFrame", hr)
        try:
            dirty: list[Rect] = []
            moves: list[MoveRect] = []
            image = info.LastPresentTime != 0 and info.AccumulatedFrames > 0
            if image and info.TotalMetadataBufferSize:
                got, self._moves = self._metadata(
                    DUPL_GET_FRAME_MOVE_RECTS, "GetFrameMoveRects", self._moves, DXGI_OUTDUPL_MOVE_RECT
                )
                moves = [MoveRect(m.SourcePoint.x, m.SourcePoint.y, _rect(m.DestinationRect)) for m in got]
                got, self._rects = self._metadata(DUPL_GET_FRAME_DIRTY_RECTS, "GetFrameDirtyRects", self._rects, RECT)
                dirty = [_rect(r) for r in got]
            if image:
                texture = ComPtr(resource, "IDXGIResource").query(IID_ID3D11Texture2D, "ID3D11Texture2D")
                try:
                    staging = self._staging_texture()
                    copy_resource(self._context, staging, texture)
                finally:
                    texture.close()
            pointer = None
            if info.LastMouseUpdateTime != 0:
                p = info.PointerPosition
                pointer = (p.Position.x, p.Position.y, bool(p.Visible))
            shape = self._pointer_shape(info.PointerShapeBufferSize) if info.PointerShapeBufferSize else None
            return DuplicatedFrame(bool(image), dirty, moves, pointer, shape)
        finally:
            if resource.value:
                ComPtr(resource, "IDXGIResource").close()
            check("ReleaseFrame", int(self._dupl.call(DUPL_RELEASE_FRAME, HRESULT, ())))

    def _pointer_shape(self, size: int) -> PointerShape | None:
        if size > ctypes.sizeof(self._shape):
            self._shape = (ctypes.c_uint8 * size)()
        needed = UINT()
        shape = DXGI_OUTDUPL_POINTER_SHAPE_INFO()
        self._dupl.hr(
            "GetFramePointerShape",
            DUPL_GET_FRAME_POINTER_SHAPE,
            (UINT, ctypes.c_void_p, ctypes.POINTER(UINT), ctypes.POINTER(DXGI_OUTDUPL_POINTER_SHAPE_INFO)),
            ctypes.sizeof(self._shape),
            self._shape,
            ctypes.byref(needed),
            ctypes.byref(shape),
        )
        return PointerShape(
            int(shape.Type),
            int(shape.Width),
            int(shape.Height),
            int(shape.Pitch),
            shape.HotSpot.x,
            shape.HotSpot.y,
            bytes(self._shape[: needed.value]),
        )

    def read(self, area: Rect | None = None) -> np.ndarray | None:
        """The last image (or `area` of it, in unrotated image pixels) copied out of the staging texture."""
        if self._staging is None:
            return None
        return map_texture(self._context, self._staging, self.height, self.width, area)

    def close(self) -> None:
        for com in (self._staging, self._dupl):
            if com is not None:
                com.close()


def _rect(r: RECT) -> Rect:
    return Rect(r.left, r.top, r.right - r.left, r.bottom - r.top)


def texture_desc(width: int, height: int, *, staging: bool) -> D3D11_TEXTURE2D_DESC:
    """A BGRA texture: a staging one the CPU can map, or a default (GPU) one."""
    usage, cpu = (D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_READ) if staging else (D3D11_USAGE_DEFAULT, 0)
    return D3D11_TEXTURE2D_DESC(
        width, height, 1, 1, DXGI_FORMAT_B8G8R8A8_UNORM, DXGI_SAMPLE_DESC(1, 0), usage, 0, cpu, 0
    )


def texture_size(texture: ComPtr) -> tuple[int, int]:
    desc = D3D11_TEXTURE2D_DESC()
    texture.call(TEXTURE2D_GET_DESC, None, (ctypes.POINTER(D3D11_TEXTURE2D_DESC),), ctypes.byref(desc))
    return int(desc.Width), int(desc.Height)


def copy_resource(context: ComPtr, dst: ComPtr, src: ComPtr) -> None:
    context.call(CONTEXT_COPY_RESOURCE, None, (ctypes.c_void_p, ctypes.c_void_p), dst.ptr, src.ptr)


def create_texture(device: ComPtr, desc: D3D11_TEXTURE2D_DESC, initial: np.ndarray | None) -> ComPtr:
    out = ctypes.c_void_p()
    data = None
    if initial is not None:
        data = D3D11_SUBRESOURCE_DATA(initial.ctypes.data, initial.strides[0], 0)
    device.hr(
        "CreateTexture2D",
        DEVICE_CREATE_TEXTURE_2D,
        (ctypes.POINTER(D3D11_TEXTURE2D_DESC), ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)),
        ctypes.byref(desc),
        ctypes.byref(data) if data is not None else None,
        ctypes.byref(out),
    )
    return ComPtr(out, "ID3D11Texture2D")


def map_texture(context: ComPtr, staging: ComPtr, height: int, width: int, area: Rect | None = None) -> np.ndarray:
    """Map a CPU-readable texture and copy it (or `area`) out as BGRA: rows are RowPitch bytes apart."""
    mapped = D3D11_MAPPED_SUBRESOURCE()
    context.hr(
        "Map",
        CONTEXT_MAP,
        (ctypes.c_void_p, UINT, UINT, UINT, ctypes.POINTER(D3D11_MAPPED_SUBRESOURCE)),
        staging.ptr,
        0,
        D3D11_MAP_READ,
        0,
        ctypes.byref(mapped),
    )
    try:
        pitch = int(mapped.RowPitch)
        raw = (ctypes.c_uint8 * (pitch * height)).from_address(mapped.pData)
        view = (
            np.frombuffer(memoryview(raw), dtype=np.uint8)
            .reshape(height, pitch)[:, : width * 4]
            .reshape(height, width, 4)
        )
        if area is not None:
            view = view[area.y : area.y + area.h, area.x : area.x + area.w]
        return view.copy()  # the mapping ends below
    finally:
        context.call(CONTEXT_UNMAP, None, (ctypes.c_void_p, UINT), staging.ptr, 0)


class Win32Dxgi:
    """The factory, its adapters and outputs, one D3D11 device per adapter (Windows only)."""

    dxgi: Any
    d3d11: Any
    factory: ComPtr

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("DXGI capture runs on Windows only")
        self.dxgi = ctypes.WinDLL("dxgi")  # type: ignore[attr-defined,unused-ignore]
        self.d3d11 = ctypes.WinDLL("d3d11")  # type: ignore[attr-defined,unused-ignore]
        self.dxgi.CreateDXGIFactory1.argtypes = (ctypes.POINTER(GUID), ctypes.POINTER(ctypes.c_void_p))
        self.dxgi.CreateDXGIFactory1.restype = HRESULT
        self.d3d11.D3D11CreateDevice.argtypes = (
            ctypes.c_void_p,
            UINT,
            ctypes.c_void_p,
            UINT,
            ctypes.c_void_p,
            UINT,
            UINT,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(UINT),
            ctypes.POINTER(ctypes.c_void_p),
        )
        self.d3d11.D3D11CreateDevice.restype = HRESULT
        factory = ctypes.c_void_p()
        check(
            "CreateDXGIFactory1", self.dxgi.CreateDXGIFactory1(ctypes.byref(IID_IDXGIFactory1), ctypes.byref(factory))
        )
        self.factory = ComPtr(factory, "IDXGIFactory1")
        self._adapters: list[ComPtr] = []
        self._devices: dict[int, tuple[ComPtr, ComPtr]] = {}
        self._outputs: list[tuple[OutputInfo, ComPtr]] = []
        self._enumerate()

    def _enumerate(self) -> None:
        for a in range(16):
            adapter = ctypes.c_void_p()
            hr = int(
                self.factory.call(
                    FACTORY1_ENUM_ADAPTERS1, HRESULT, (UINT, ctypes.POINTER(ctypes.c_void_p)), a, ctypes.byref(adapter)
                )
            )
            if hr & 0xFFFFFFFF == DXGI_ERROR_NOT_FOUND:
                break
            check("EnumAdapters1", hr)
            self._adapters.append(ComPtr(adapter, "IDXGIAdapter1"))
            for o in range(16):
                output = ctypes.c_void_p()
                hr = int(
                    self._adapters[-1].call(
                        ADAPTER_ENUM_OUTPUTS, HRESULT, (UINT, ctypes.POINTER(ctypes.c_void_p)), o, ctypes.byref(output)
                    )
                )
                if hr & 0xFFFFFFFF == DXGI_ERROR_NOT_FOUND:
                    break
                check("EnumOutputs", hr)
                com = ComPtr(output, "IDXGIOutput")
                desc = DXGI_OUTPUT_DESC()
                com.hr("GetDesc", OUTPUT_GET_DESC, (ctypes.POINTER(DXGI_OUTPUT_DESC),), ctypes.byref(desc))
                if not desc.AttachedToDesktop:
                    com.close()
                    continue
                name = bytes(desc.DeviceName).decode("utf-16-le").split("\0")[0]
                info = OutputInfo(name, _rect(desc.DesktopCoordinates), int(desc.Rotation), a)
                self._outputs.append((info, com))

    def outputs(self) -> list[OutputInfo]:
        return [info for info, _ in self._outputs]

    def device(self, adapter: int) -> tuple[ComPtr, ComPtr]:
        """The D3D11 device on an adapter and its immediate context (created once)."""
        if adapter not in self._devices:
            device, context = ctypes.c_void_p(), ctypes.c_void_p()
            level = UINT()
            check(
                "D3D11CreateDevice",
                self.d3d11.D3D11CreateDevice(
                    self._adapters[adapter].ptr,
                    D3D_DRIVER_TYPE_UNKNOWN,
                    None,
                    D3D11_CREATE_DEVICE_BGRA_SUPPORT,
                    None,
                    0,
                    D3D11_SDK_VERSION,
                    ctypes.byref(device),
                    ctypes.byref(level),
                    ctypes.byref(context),
                ),
            )
            self._devices[adapter] = (ComPtr(device, "ID3D11Device"), ComPtr(context, "ID3D11DeviceContext"))
        return self._devices[adapter]

    def duplicate(self, index: int) -> Win32Duplication:
        """A duplication of output `index` (of outputs()); raises DxgiError (E_NOTIMPL under Wine,
        E_ACCESSDENIED on the secure desktop, DXGI_ERROR_UNSUPPORTED on a hybrid-GPU mismatch)."""
        info, output = self._outputs[index]
        output1 = output.query(IID_IDXGIOutput1, "IDXGIOutput1")
        try:
            device, context = self.device(info.adapter)
            return Win32Duplication(device, context, output1, info)
        finally:
            output1.close()

    def close(self) -> None:
        for _, output in self._outputs:
            output.close()
        for device, context in self._devices.values():
            context.close()
            device.close()
        for adapter in self._adapters:
            adapter.close()
        self.factory.close()
        self._outputs, self._devices, self._adapters = [], {}, []
