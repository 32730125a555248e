"""DXGI and D3D11 through the ctypes vtables as far as Wine implements them: outputs and their
coordinates, DuplicateOutput's refusal, and a texture round trip (CreateTexture2D, GetDesc,
CopyResource, Map/Unmap) that checks the indices the duplication's image path uses."""

from __future__ import annotations

import numpy as np
from common import main


def body() -> dict[str, object]:
    from jiseki.agent.win32 import dxgi
    from jiseki.protocol import Rect

    api = dxgi.Win32Dxgi()
    out: dict[str, object] = {
        "outputs": [[o.name, o.desktop.x, o.desktop.y, o.desktop.w, o.desktop.h, o.rotation] for o in api.outputs()]
    }
    try:
        api.duplicate(0).close()
        out["duplicate"] = "ok"
    except dxgi.DxgiError as exc:
        out["duplicate"] = str(exc)
        out["duplicate_hresult"] = exc.hresult
    device, context = api.device(0)
    picture = np.random.default_rng(1).integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    source = dxgi.create_texture(device, dxgi.texture_desc(53, 37, staging=False), picture)
    staging = dxgi.create_texture(device, dxgi.texture_desc(53, 37, staging=True), None)
    out["texture_size"] = list(dxgi.texture_size(source))
    dxgi.copy_resource(context, staging, source)
    whole = dxgi.map_texture(context, staging, 37, 53)
    part = dxgi.map_texture(context, staging, 37, 53, area=Rect(5, 6, 7, 8))
    out["round_trip_exact"] = bool(np.array_equal(whole, picture))
    out["area_exact"] = bool(np.array_equal(part, picture[6:14, 5:12]))
    for com in (staging, source):
        com.close()
    api.close()
    return out


main(body)
