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
WEBP_METHOD = 0  # fastest; measured 3.2 ms for an 800x200 text strip
WEBP_QUALITY = 80  # for lossless WebP this is effort, not fidelity
# Up to 128x128 pixels (a typed character, a line's end) method 1 costs the same CPU as method 0
# and its output is ~25 % smaller (measured on the bench recordings: 0.09 ms for ~260 bytes against
# ~350 per region of <= 64x64); on larger regions it costs ~40 % more CPU.
SMALL_WEBP_PIXELS = 128 * 128
SMALL_WEBP_METHOD = 1
SMALL_WEBP_QUALITY = 0


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
    if h * w <= SMALL_WEBP_PIXELS:
        image.save(out, "WEBP", lossless=True, method=SMALL_WEBP_METHOD, quality=SMALL_WEBP_QUALITY)
    else:
        image.save(out, "WEBP", lossless=True, method=WEBP_METHOD, quality=WEBP_QUALITY)
    return out.getvalue()


def encode_jpeg(region: np.ndarray, quality: int) -> bytes:
    return bytes(
        simplejpeg.encode_jpeg(
            np.ascontiguousarray(region), quality=quality, colorspace="BGRA", colorsubsampling="420", fastdct=True
        )
    )


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
