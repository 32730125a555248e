"""DXGI and Direct3D 11 as ctypes sees them: vtable indices, HRESULTs, structures, and the small COM
pointer wrapper `dxgi.py` drives (names as in the Windows SDK headers dxgi.h, dxgi1_2.h, d3d11.h).

Vtable indices are the method order of each interface, continuing its base's: IUnknown 0-2;
IDXGIObject 3-6 (SetPrivateData, SetPrivateDataInterface, GetPrivateData, GetParent);
ID3D11DeviceChild 3-6 (GetDevice, GetPrivateData, SetPrivateData, SetPrivateDataInterface).
"""

from __future__ import annotations

import ctypes
import uuid
from typing import Any

from .abi import BOOL, DWORD, HANDLE, POINT, RECT

__all__ = [  # `dxgi.py` takes them all (and so do the tests, from either module)
    "ADAPTER_ENUM_OUTPUTS",
    "ADD_REF",
    "CONTEXT_COPY_RESOURCE",
    "CONTEXT_MAP",
    "CONTEXT_UNMAP",
    "D3D11_CPU_ACCESS_READ",
    "D3D11_CREATE_DEVICE_BGRA_SUPPORT",
    "D3D11_MAPPED_SUBRESOURCE",
    "D3D11_MAP_READ",
    "D3D11_SDK_VERSION",
    "D3D11_SUBRESOURCE_DATA",
    "D3D11_TEXTURE2D_DESC",
    "D3D11_USAGE_DEFAULT",
    "D3D11_USAGE_STAGING",
    "D3D_DRIVER_TYPE_UNKNOWN",
    "DEVICE_CREATE_TEXTURE_2D",
    "DEVICE_GET_IMMEDIATE_CONTEXT",
    "DUPL_ACQUIRE_NEXT_FRAME",
    "DUPL_GET_DESC",
    "DUPL_GET_FRAME_DIRTY_RECTS",
    "DUPL_GET_FRAME_MOVE_RECTS",
    "DUPL_GET_FRAME_POINTER_SHAPE",
    "DUPL_RELEASE_FRAME",
    "DXGI_ERROR_ACCESS_LOST",
    "DXGI_ERROR_MORE_DATA",
    "DXGI_ERROR_NOT_CURRENTLY_AVAILABLE",
    "DXGI_ERROR_NOT_FOUND",
    "DXGI_ERROR_SESSION_DISCONNECTED",
    "DXGI_ERROR_UNSUPPORTED",
    "DXGI_ERROR_WAIT_TIMEOUT",
    "DXGI_FORMAT_B8G8R8A8_UNORM",
    "DXGI_MODE_DESC",
    "DXGI_MODE_ROTATION_IDENTITY",
    "DXGI_MODE_ROTATION_ROTATE90",
    "DXGI_MODE_ROTATION_ROTATE180",
    "DXGI_MODE_ROTATION_ROTATE270",
    "DXGI_MODE_ROTATION_UNSPECIFIED",
    "DXGI_OUTDUPL_DESC",
    "DXGI_OUTDUPL_FRAME_INFO",
    "DXGI_OUTDUPL_MOVE_RECT",
    "DXGI_OUTDUPL_POINTER_POSITION",
    "DXGI_OUTDUPL_POINTER_SHAPE_INFO",
    "DXGI_OUTDUPL_POINTER_SHAPE_TYPE_COLOR",
    "DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MASKED_COLOR",
    "DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MONOCHROME",
    "DXGI_OUTPUT_DESC",
    "DXGI_RATIONAL",
    "DXGI_SAMPLE_DESC",
    "E_ACCESSDENIED",
    "E_NOTIMPL",
    "FACTORY1_ENUM_ADAPTERS1",
    "GUID",
    "HRESULT",
    "HRESULT_NAMES",
    "OUTPUT1_DUPLICATE_OUTPUT",
    "OUTPUT_GET_DESC",
    "QUERY_INTERFACE",
    "RELEASE",
    "S_OK",
    "TEXTURE2D_GET_DESC",
    "UINT",
    "AccessLost",
    "ComPtr",
    "DxgiError",
    "IID_ID3D11Texture2D",
    "IID_IDXGIFactory1",
    "IID_IDXGIOutput1",
    "check",
    "hresult_name",
]

UINT = ctypes.c_uint32
HRESULT = ctypes.c_int32  # not ctypes.HRESULT, which would raise before we can read the code

# IUnknown
QUERY_INTERFACE, ADD_REF, RELEASE = 0, 1, 2
# IDXGIFactory: EnumAdapters 7 .. CreateSoftwareAdapter 11; IDXGIFactory1: EnumAdapters1 12, IsCurrent 13
FACTORY1_ENUM_ADAPTERS1 = 12
# IDXGIAdapter: EnumOutputs 7, GetDesc 8, CheckInterfaceSupport 9
ADAPTER_ENUM_OUTPUTS = 7
# IDXGIOutput: GetDesc 7 .. GetFrameStatistics 18; IDXGIOutput1: GetDisplayModeList1 19,
# FindClosestMatchingMode1 20, GetDisplaySurfaceData1 21, DuplicateOutput 22
OUTPUT_GET_DESC = 7
OUTPUT1_DUPLICATE_OUTPUT = 22
# IDXGIOutputDuplication: GetDesc 7, AcquireNextFrame 8, GetFrameDirtyRects 9, GetFrameMoveRects 10,
# GetFramePointerShape 11, MapDesktopSurface 12, UnMapDesktopSurface 13, ReleaseFrame 14
DUPL_GET_DESC = 7
DUPL_ACQUIRE_NEXT_FRAME = 8
DUPL_GET_FRAME_DIRTY_RECTS = 9
DUPL_GET_FRAME_MOVE_RECTS = 10
DUPL_GET_FRAME_POINTER_SHAPE = 11
DUPL_RELEASE_FRAME = 14
# ID3D11Device: CreateBuffer 3, CreateTexture1D 4, CreateTexture2D 5 ... GetImmediateContext 40
DEVICE_CREATE_TEXTURE_2D = 5
DEVICE_GET_IMMEDIATE_CONTEXT = 40
# ID3D11DeviceContext: VSSetConstantBuffers 7 .. Draw 13, Map 14, Unmap 15 .. CopyResource 47
CONTEXT_MAP = 14
CONTEXT_UNMAP = 15
CONTEXT_COPY_RESOURCE = 47
# ID3D11Resource: GetType 7, SetEvictionPriority 8, GetEvictionPriority 9; ID3D11Texture2D: GetDesc 10
TEXTURE2D_GET_DESC = 10

S_OK = 0
E_NOTIMPL = 0x80004001
E_ACCESSDENIED = 0x80070005
DXGI_ERROR_NOT_FOUND = 0x887A0002
DXGI_ERROR_MORE_DATA = 0x887A0003
DXGI_ERROR_UNSUPPORTED = 0x887A0004
DXGI_ERROR_ACCESS_LOST = 0x887A0026
DXGI_ERROR_WAIT_TIMEOUT = 0x887A0027
DXGI_ERROR_NOT_CURRENTLY_AVAILABLE = 0x887A0022
DXGI_ERROR_SESSION_DISCONNECTED = 0x887A0028
HRESULT_NAMES = {
    E_NOTIMPL: "E_NOTIMPL",
    E_ACCESSDENIED: "E_ACCESSDENIED",
    0x80004002: "E_NOINTERFACE",
    0x80070057: "E_INVALIDARG",
    DXGI_ERROR_NOT_FOUND: "DXGI_ERROR_NOT_FOUND",
    DXGI_ERROR_MORE_DATA: "DXGI_ERROR_MORE_DATA",
    DXGI_ERROR_UNSUPPORTED: "DXGI_ERROR_UNSUPPORTED",
    DXGI_ERROR_ACCESS_LOST: "DXGI_ERROR_ACCESS_LOST",
    DXGI_ERROR_WAIT_TIMEOUT: "DXGI_ERROR_WAIT_TIMEOUT",
    DXGI_ERROR_NOT_CURRENTLY_AVAILABLE: "DXGI_ERROR_NOT_CURRENTLY_AVAILABLE",
    DXGI_ERROR_SESSION_DISCONNECTED: "DXGI_ERROR_SESSION_DISCONNECTED",
}

D3D_DRIVER_TYPE_UNKNOWN = 0  # required when an adapter is given
D3D11_SDK_VERSION = 7
D3D11_CREATE_DEVICE_BGRA_SUPPORT = 0x20
DXGI_FORMAT_B8G8R8A8_UNORM = 87
D3D11_USAGE_DEFAULT = 0
D3D11_USAGE_STAGING = 3
D3D11_CPU_ACCESS_READ = 0x20000
D3D11_MAP_READ = 1
DXGI_MODE_ROTATION_UNSPECIFIED = 0
DXGI_MODE_ROTATION_IDENTITY = 1
DXGI_MODE_ROTATION_ROTATE90 = 2
DXGI_MODE_ROTATION_ROTATE180 = 3
DXGI_MODE_ROTATION_ROTATE270 = 4
DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MONOCHROME = 1
DXGI_OUTDUPL_POINTER_SHAPE_TYPE_COLOR = 2
DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MASKED_COLOR = 4


class GUID(ctypes.Structure):
    _fields_ = (("Data1", DWORD), ("Data2", ctypes.c_uint16), ("Data3", ctypes.c_uint16), ("Data4", ctypes.c_uint8 * 8))

    @classmethod
    def parse(cls, text: str) -> GUID:
        return cls.from_buffer_copy(uuid.UUID(text).bytes_le)


IID_IDXGIFactory1 = GUID.parse("770aae78-f26f-4dba-a829-253c83d1b387")
IID_IDXGIOutput1 = GUID.parse("00cddea8-939b-4b83-a340-a685226666cc")
IID_ID3D11Texture2D = GUID.parse("6f15aaf2-d208-4e89-9ab4-489535d34f9c")


class DXGI_OUTPUT_DESC(ctypes.Structure):
    _fields_ = (
        ("DeviceName", ctypes.c_uint16 * 32),  # WCHAR[32] (c_wchar is 4 bytes on Linux)
        ("DesktopCoordinates", RECT),
        ("AttachedToDesktop", BOOL),
        ("Rotation", UINT),
        ("Monitor", HANDLE),
    )


class DXGI_RATIONAL(ctypes.Structure):
    _fields_ = (("Numerator", UINT), ("Denominator", UINT))


class DXGI_MODE_DESC(ctypes.Structure):
    _fields_ = (
        ("Width", UINT),
        ("Height", UINT),
        ("RefreshRate", DXGI_RATIONAL),
        ("Format", UINT),
        ("ScanlineOrdering", UINT),
        ("Scaling", UINT),
    )


class DXGI_OUTDUPL_DESC(ctypes.Structure):
    _fields_ = (("ModeDesc", DXGI_MODE_DESC), ("Rotation", UINT), ("DesktopImageInSystemMemory", BOOL))


class DXGI_OUTDUPL_POINTER_POSITION(ctypes.Structure):
    _fields_ = (("Position", POINT), ("Visible", BOOL))


class DXGI_OUTDUPL_FRAME_INFO(ctypes.Structure):
    _fields_ = (
        ("LastPresentTime", ctypes.c_int64),  # 0: no new desktop image (the pointer alone changed)
        ("LastMouseUpdateTime", ctypes.c_int64),  # 0: the pointer neither moved nor changed shape
        ("AccumulatedFrames", UINT),
        ("RectsCoalesced", BOOL),
        ("ProtectedContentMaskedOut", BOOL),
        ("PointerPosition", DXGI_OUTDUPL_POINTER_POSITION),
        ("TotalMetadataBufferSize", UINT),
        ("PointerShapeBufferSize", UINT),  # non-zero only when the shape changed
    )


class DXGI_OUTDUPL_MOVE_RECT(ctypes.Structure):
    _fields_ = (("SourcePoint", POINT), ("DestinationRect", RECT))


class DXGI_OUTDUPL_POINTER_SHAPE_INFO(ctypes.Structure):
    _fields_ = (("Type", UINT), ("Width", UINT), ("Height", UINT), ("Pitch", UINT), ("HotSpot", POINT))


class DXGI_SAMPLE_DESC(ctypes.Structure):
    _fields_ = (("Count", UINT), ("Quality", UINT))


class D3D11_TEXTURE2D_DESC(ctypes.Structure):
    _fields_ = (
        ("Width", UINT),
        ("Height", UINT),
        ("MipLevels", UINT),
        ("ArraySize", UINT),
        ("Format", UINT),
        ("SampleDesc", DXGI_SAMPLE_DESC),
        ("Usage", UINT),
        ("BindFlags", UINT),
        ("CPUAccessFlags", UINT),
        ("MiscFlags", UINT),
    )


class D3D11_MAPPED_SUBRESOURCE(ctypes.Structure):
    _fields_ = (("pData", ctypes.c_void_p), ("RowPitch", UINT), ("DepthPitch", UINT))


class D3D11_SUBRESOURCE_DATA(ctypes.Structure):
    _fields_ = (("pSysMem", ctypes.c_void_p), ("SysMemPitch", UINT), ("SysMemSlicePitch", UINT))


def hresult_name(code: int) -> str:
    code &= 0xFFFFFFFF
    return HRESULT_NAMES.get(code, f"0x{code:08X}")


class DxgiError(OSError):
    """A failed DXGI/D3D11 call; str() is e.g. "DuplicateOutput: E_NOTIMPL"."""

    def __init__(self, call: str, hresult: int) -> None:
        self.call = call
        self.hresult = hresult & 0xFFFFFFFF
        super().__init__(f"{call}: {hresult_name(hresult)}")


class AccessLost(DxgiError):
    """DXGI_ERROR_ACCESS_LOST: a mode change, a desktop switch (UAC, lock screen) or a full-screen
    application took the output; the duplication must be created again."""


def check(call: str, hr: int) -> None:
    if hr < 0:
        if hr & 0xFFFFFFFF == DXGI_ERROR_ACCESS_LOST:
            raise AccessLost(call, hr)
        raise DxgiError(call, hr)


class ComPtr:
    """An interface pointer whose methods are called by vtable index; Release()d by close()."""

    def __init__(self, pointer: ctypes.c_void_p, name: str) -> None:
        if not pointer.value:
            raise DxgiError(f"{name} (null pointer)", E_NOTIMPL)
        self.ptr = pointer
        self.name = name

    def call(self, index: int, restype: Any, argtypes: tuple[Any, ...], *args: Any) -> Any:
        vtable = ctypes.cast(self.ptr, ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p))).contents
        method = ctypes.WINFUNCTYPE(restype, ctypes.c_void_p, *argtypes)(vtable[index])  # type: ignore[attr-defined,unused-ignore]
        return method(self.ptr, *args)

    def hr(self, name: str, index: int, argtypes: tuple[Any, ...], *args: Any) -> None:
        check(name, int(self.call(index, HRESULT, argtypes, *args)))

    def query(self, iid: GUID, name: str) -> ComPtr:
        out = ctypes.c_void_p()
        self.hr(
            f"QueryInterface({name})",
            QUERY_INTERFACE,
            (ctypes.POINTER(GUID), ctypes.POINTER(ctypes.c_void_p)),
            ctypes.byref(iid),
            ctypes.byref(out),
        )
        return ComPtr(out, name)

    def close(self) -> None:
        if self.ptr.value:
            self.call(RELEASE, ctypes.c_ulong, ())
            self.ptr = ctypes.c_void_p()
