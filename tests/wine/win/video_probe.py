"""PyAV's Windows wheel under Windows CPython: both encoders open, a 640x360 picture is encoded as the
agent does it (H.264 Annex B with SPS in the keyframe; VP8), and decodes again."""

from __future__ import annotations

import time

import numpy as np
from common import main


def probe() -> dict[str, object]:
    started = time.perf_counter()
    import av

    imported = time.perf_counter() - started
    from jiseki.agent.encode.video import available, open_encoder
    from jiseki.protocol import VideoCodec

    yy, xx = np.mgrid[0:360, 0:640]
    out: dict[str, object] = {"version": av.__version__, "import_s": round(imported, 2)}
    out["available"] = sorted(c.name for c in available())
    for codec in sorted(available()):
        enc = open_encoder(codec, 640, 360, 1_500_000)
        dec = av.CodecContext.create("h264" if codec is VideoCodec.H264 else "vp8", "r")
        errors, keys, sizes = [], [], []
        encoding = 0.0
        for i in range(25):
            img = np.zeros((360, 640, 4), dtype=np.uint8)
            img[..., 0] = (127 + 100 * np.sin((xx + 3 * i) / 23.0)).astype(np.uint8)
            img[..., 1] = (127 + 100 * np.cos((yy + 2 * i) / 17.0)).astype(np.uint8)
            img[..., 2] = ((xx + yy + i) % 256).astype(np.uint8)
            t = time.perf_counter()
            data, key = enc.encode(img, i / 25, keyframe=i == 0)
            encoding += time.perf_counter() - t
            keys.append(key)
            sizes.append(len(data))
            frames = dec.decode(av.Packet(data))
            got = frames[0].to_ndarray(format="rgb24").astype(int)
            errors.append(float(np.abs(got - img[..., 2::-1].astype(int)).mean()))
        out[codec.name] = {
            "encode_ms": round(encoding / 25 * 1000, 1),
            "first_keyframe": keys[0],
            "keyframes": sum(keys),
            "bytes": sum(sizes),
            "max_error": round(max(errors), 1),
        }
    return out


main(probe)
