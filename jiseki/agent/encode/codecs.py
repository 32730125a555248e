"""Pick and run a codec for one rectangle: solid -> FILL, few colours -> WebP lossless, else JPEG.

Codecs are the ones every browser decodes natively (createImageBitmap); see the measurements in
docs/architecture.md for why these two.
"""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
from PIL import Image

from jiseki.protocol import Codec, FillOp, ImageOp, Op, Rect

# Above this many distinct colours in a sample, a rectangle is treated as photographic.
# Anti-aliased text stays well under it (a 64x64 text tile had 158 colours; photos had thousands).
PHOTO_COLOURS = 320
SAMPLE_PIXELS = 4096
# Lossless effort: method 0 skips the colour cache and backward references that make desktop text
# small. Measured on the benchmark desktop's first frame (26 pieces of up to 512x128): method 0 /
# quality 80 gave 100.4 KB in 17 ms; method 1 / quality 0 gave 33.6 KB in 18 ms (method 4: 29 KB,
# 51 ms). A third of the bytes for the same CPU; on a 3 Mbit/s link that is 180 ms less. Text strips
# of a scroll (900x51 to 900x102): 8-10x fewer bytes for 10-35 % more CPU of a ~0.3-1 ms encode.
WEBP_METHOD = 1
WEBP_QUALITY = 0  # for lossless WebP this is effort, not fidelity


def colour_count(region: np.ndarray, limit: int = SAMPLE_PIXELS) -> int:
    """Distinct colours in an evenly strided sample of at most `limit` pixels."""
    flat = region.reshape(-1, 4).view(np.uint32).ravel() & np.uint32(0x00FFFFFF)
    step = max(1, flat.size // limit)
    return int(np.unique(flat[::step]).size)


def is_solid(region: np.ndarray) -> bool:
    pixels = region.reshape(-1, 4).view(np.uint32).ravel() & np.uint32(0x00FFFFFF)
    return bool((pixels == pixels[0]).all())


def encode_webp_lossless(region: np.ndarray) -> bytes:
    h, w = region.shape[:2]
    image = Image.frombuffer("RGB", (w, h), np.ascontiguousarray(region), "raw", "BGRX", 0, 1)
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=True, method=WEBP_METHOD, quality=WEBP_QUALITY)
    return out.getvalue()


def encode_jpeg(region: np.ndarray, quality: int) -> bytes:
    return bytes(
        simplejpeg.encode_jpeg(
            np.ascontiguousarray(region), quality=quality, colorspace="BGRA", colorsubsampling="420", fastdct=True
        )
    )


def warm_up() -> None:
    """Load the encoders now: the first WebP encode in a process costs ~25 ms more (the plugin
    loads), and importing PyAV 0.3-1.3 s (Windows CPython under Wine) (which would otherwise happen on the session's
    event loop when the viewer's HELLO arrives)."""
    from .video import available

    tile = np.zeros((16, 16, 4), dtype=np.uint8)
    encode_webp_lossless(tile)
    encode_jpeg(tile, 50)
    available()


def choose_codec(region: np.ndarray) -> Codec:
    return Codec.JPEG if colour_count(region) > PHOTO_COLOURS else Codec.WEBP


def encode_rect(frame: np.ndarray, rect: Rect, jpeg_quality: int, *, lossless: bool = False) -> Op:
    """FILL, WebP lossless or JPEG for one rectangle; `lossless` forbids JPEG (refinement)."""
    region = frame[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w]
    if is_solid(region):
        b, g, r = (int(v) for v in region[0, 0, :3])
        return FillOp(rect.x, rect.y, rect.w, rect.h, r, g, b)
    codec = Codec.WEBP if lossless else choose_codec(region)
    payload = encode_jpeg(region, jpeg_quality) if codec == Codec.JPEG else encode_webp_lossless(region)
    return ImageOp(rect.x, rect.y, rect.w, rect.h, codec, payload)
