"""Scroll and window-move detection between the viewer's picture and a new frame (pure numpy).

Vertical shifts (scrolling) are found by hashing the rows of the changed area's column span and
voting for the offset that maps old rows onto new ones; 2-D shifts (a dragged window) by looking
up a few distinctive pixel runs of the new frame in the old one. Every candidate is verified with
numpy before it becomes a `COPY`, so a wrong guess costs time, never a wrong picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash

from jiseki.protocol import CopyOp, Rect

MIN_COPY_ROWS = 16  # a copy smaller than this is not worth the detour
MIN_COPY_PIXELS = 64 * 64
MAX_HASH_REPEATS = 2  # rows whose hash occurs more often (blank lines) do not vote
MIN_VOTES = 4
ANCHOR_WIDTH = 48  # pixels in one anchor run (2-D search)
ANCHORS = 12
ANCHOR_VOTES = 3  # anchors that must agree before a 2-D candidate is verified
SEARCH_ROWS = 200  # how far (rows) a 2-D move may go in one frame
MIN_2D_SIDE = 128  # smaller changed areas are not searched in 2-D (each lookup scans megabytes)


@dataclass(frozen=True, slots=True)
class Move:
    """Pixels of `src` in the old picture are now at (src.x + dx, src.y + dy)."""

    src: Rect
    dx: int
    dy: int

    def op(self) -> CopyOp:
        return CopyOp(self.src.x, self.src.y, self.src.w, self.src.h, self.src.x + self.dx, self.src.y + self.dy)


def same_pixels(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two BGRA areas are equal: compared as one uint32 per pixel (4x fewer elements)."""
    return bool(np.array_equal(a.view(np.uint32), b.view(np.uint32)))


def row_hashes(frame: np.ndarray, box: Rect) -> list[int]:
    """xxh3 of each row's pixels inside `box` (each row slice is contiguous: ~0.5 µs per row)."""
    x0, x1 = box.x, box.x + box.w
    # numpy's stubs give ndarray a __buffer__ on Python 3.12+ only; the row is a buffer on 3.11 too.
    return [xxhash.xxh3_64_intdigest(frame[y, x0:x1]) for y in range(box.y, box.y + box.h)]  # type: ignore[arg-type]


class RowHashCache:
    """Row hashes of the last frame, kept for the next one.

    After an update the viewer's picture equals the frame just encoded, so the hashes computed
    for the new side of one frame are the old side's hashes of the next (for the same columns)."""

    def __init__(self) -> None:
        self._span: tuple[int, int] | None = None
        self._rows: dict[int, int] = {}

    def old_hashes(self, old: np.ndarray, box: Rect) -> list[int]:
        if self._span != (box.x, box.w):
            return row_hashes(old, box)
        rows, x0, x1 = self._rows, box.x, box.x + box.w
        out = []
        for y in range(box.y, box.y + box.h):
            h = rows.get(y)
            out.append(xxhash.xxh3_64_intdigest(old[y, x0:x1]) if h is None else h)  # type: ignore[arg-type]  # as above
        return out

    def remember(self, box: Rect, new_hashes: list[int]) -> None:
        self._span = (box.x, box.w)
        self._rows = dict(zip(range(box.y, box.y + box.h), new_hashes, strict=True))

    def clear(self) -> None:
        self._span = None
        self._rows = {}


def vote_vertical(old_hashes: list[int], new_hashes: list[int]) -> list[tuple[int, int, int]]:
    """Candidate vertical offsets (dy, votes, seed row), best first, from rows that changed.

    A new row votes for dy = y_new - y_old for each old row with the same hash; hashes seen more
    than MAX_HASH_REPEATS times in the old area (blank or ruled lines) carry no information. The
    seed is one voting row (index into the lists): a distinctive row known to match."""
    old = np.array(old_hashes, dtype=np.uint64)
    new = np.array(new_hashes, dtype=np.uint64)
    changed = np.flatnonzero(old != new)
    if changed.size == 0:
        return []
    order = np.argsort(old, kind="stable")
    uniq, first, counts = np.unique(old[order], return_index=True, return_counts=True)
    wanted = new[changed]
    k = np.minimum(np.searchsorted(uniq, wanted), uniq.size - 1)
    ok = (uniq[k] == wanted) & (counts[k] <= MAX_HASH_REPEATS)
    ys, k = changed[ok], k[ok]
    dys = [ys - order[first[k]]]
    second = counts[k] > 1
    dys.append(ys[second] - order[first[k[second]] + 1])
    all_dy = np.concatenate(dys)
    all_y = np.concatenate([ys, ys[second]])
    if all_dy.size == 0:
        return []
    values, index, n = np.unique(all_dy, return_index=True, return_counts=True)
    best = np.argsort(-n, kind="stable")[:3]
    return [(int(values[i]), int(n[i]), int(all_y[index[i]])) for i in best if n[i] >= MIN_VOTES and values[i] != 0]


def _run_at(flags: np.ndarray, i: int) -> tuple[int, int]:
    """(start, end) of the run of True in a 1-D boolean array that contains index i; (i, i) if none."""
    if not flags[i]:
        return i, i
    false = np.flatnonzero(~flags)
    before = false[false < i]
    after = false[false > i]
    return (int(before[-1]) + 1 if before.size else 0), (int(after[0]) if after.size else flags.size)


def matching_rect(old: np.ndarray, new: np.ndarray, box: Rect, dx: int, dy: int, seed: tuple[int, int]) -> Rect | None:
    """A large rectangle R inside `box` (destination), containing the destination point `seed`,
    with new[R] == old[R - (dx, dy)]; None if it would be too small to be worth a COPY.

    Grown from the seed: the run of matching columns on the seed row, then the rows matching on
    all those columns, then the columns matching on all those rows, and once more. The result is
    exact by construction: every pixel in it was compared."""
    h, w = new.shape[:2]
    # Destination area whose source also lies on the screen.
    x0, x1 = max(box.x, dx), min(box.x + box.w, w + dx)
    y0, y1 = max(box.y, dy), min(box.y + box.h, h + dy)
    sx, sy = seed[0] - x0, seed[1] - y0
    if x1 - x0 < 1 or y1 - y0 < MIN_COPY_ROWS or not (0 <= sx < x1 - x0 and 0 <= sy < y1 - y0):
        return None
    a = new[y0:y1, x0:x1].view(np.uint32)[..., 0]
    b = old[y0 - dy : y1 - dy, x0 - dx : x1 - dx].view(np.uint32)[..., 0]
    mask = a == b
    c0, c1 = _run_at(mask[sy], sx)
    if c1 == c0:
        return None
    r0 = r1 = sy
    for _ in range(2):
        r0, r1 = _run_at(mask[:, c0:c1].all(axis=1), sy)
        c0, c1 = _run_at(mask[r0:r1].all(axis=0), sx)
    r0, r1 = _run_at(mask[:, c0:c1].all(axis=1), sy)
    rect = Rect(x0 + c0, y0 + r0, c1 - c0, r1 - r0)
    if rect.h < MIN_COPY_ROWS or rect.w * rect.h < MIN_COPY_PIXELS:
        return None
    return rect


def _anchors(new: np.ndarray, box: Rect, rows: np.ndarray) -> list[tuple[int, int]]:
    """(x, y) of a short, varied run of pixels on a few changed rows of `new`: runs of one colour
    would match anywhere."""
    aw = min(ANCHOR_WIDTH, box.w)
    out = []
    ys = rows[np.linspace(0, rows.size - 1, num=min(ANCHORS, rows.size)).astype(int)]
    for y in ys.tolist():
        line = new[y, box.x : box.x + box.w].view(np.uint32)[:, 0]
        changes = np.flatnonzero(line[1:] != line[:-1])
        if changes.size >= 6:
            out.append((box.x + int(min(max(0, changes[changes.size // 2] - aw // 2), box.w - aw)), y))
    return out


def _anchor_votes(
    old_bytes: bytearray, new: np.ndarray, box: Rect, rows: np.ndarray
) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """2-D offsets -> the anchor points (destination) voting for them.

    An anchor is looked up in the old picture's bytes (CPython's substring search, no copy) within
    SEARCH_ROWS rows, but only while no offset found so far explains it: each offset found is
    checked against the other anchors by one comparison of their bytes at that offset, so a
    dragged window usually costs one search instead of one per anchor (each scans megabytes)."""
    h, w = new.shape[:2]
    stride = w * 4
    votes: dict[tuple[int, int], list[tuple[int, int]]] = {}
    if rows.size == 0:
        return votes
    aw = min(ANCHOR_WIDTH, box.w)
    size = aw * 4
    anchors = [(xa, y, new[y, xa : xa + aw].tobytes()) for xa, y in _anchors(new, box, rows)]

    def matches(anchor: tuple[int, int, bytes], dx: int, dy: int) -> bool:
        xa, y, pattern = anchor
        xo, yo = xa - dx, y - dy
        if not (0 <= xo and xo + aw <= w and 0 <= yo < h) or (xo, yo) == (xa, y):
            return False
        at = yo * stride + xo * 4
        return old_bytes[at : at + size] == pattern

    for anchor in anchors:
        if any(matches(anchor, dx, dy) for dx, dy in votes):
            continue  # already counted when its offset was found (below)
        xa, y, pattern = anchor
        lo = max(0, y - SEARCH_ROWS) * stride
        hi = min(h, y + SEARCH_ROWS + 1) * stride
        found = 0
        pos = old_bytes.find(pattern, lo, hi)
        while pos >= 0 and found < 4:
            if pos % 4 == 0:
                yo, xo = divmod(pos // 4, w)
                offset = (xa - xo, y - yo)
                if xo + aw <= w and (xo, yo) != (xa, y) and offset not in votes:
                    found += 1
                    # Every anchor (before and after this one) that this offset explains votes for it.
                    seeds = [(a[0], a[1]) for a in anchors if matches(a, *offset)]
                    votes[offset] = seeds
                    if len(seeds) >= ANCHOR_VOTES:
                        return votes  # enough agreement: verify this one before searching more
            pos = old_bytes.find(pattern, pos + 1, hi)
    return votes


def _hash_run(
    old: np.ndarray, new: np.ndarray, box: Rect, old_h: list[int], new_h: list[int], dy: int, seed: int
) -> Rect | None:
    """The rows around `seed` whose whole width inside `box` moved by dy, by their hashes, then
    compared pixel by pixel (cheaper than matching_rect's mask when a whole area scrolled)."""
    n = len(new_h)
    lo, hi = seed, seed + 1
    while lo - 1 >= max(0, dy) and new_h[lo - 1] == old_h[lo - 1 - dy]:
        lo -= 1
    while hi < min(n, n + dy) and new_h[hi] == old_h[hi - dy]:
        hi += 1
    if hi - lo < MIN_COPY_ROWS or box.w * (hi - lo) < MIN_COPY_PIXELS:
        return None
    x0, x1 = box.x, box.x + box.w
    y0, y1 = box.y + lo, box.y + hi
    if not same_pixels(new[y0:y1, x0:x1], old[y0 - dy : y1 - dy, x0:x1]):
        return None  # a hash collision: let the pixel mask decide
    return Rect(x0, y0, box.w, hi - lo)


def find_moves(
    old: np.ndarray,
    new: np.ndarray,
    box: Rect,
    old_bytes: bytearray | None = None,
    cache: RowHashCache | None = None,
) -> list[Move]:
    """At most one verified move that explains a large part of the change inside `box`.

    `old_bytes` is the old picture's buffer (for the 2-D search without copying 8 MB); without it
    only vertical shifts are looked for. `cache` carries row hashes from one frame to the next."""
    if box.h < MIN_COPY_ROWS or box.w * box.h < MIN_COPY_PIXELS:
        return []
    old_h = cache.old_hashes(old, box) if cache is not None else row_hashes(old, box)
    new_h = row_hashes(new, box)
    if cache is not None:
        cache.remember(box, new_h)
    for dy, _votes, seed in vote_vertical(old_h, new_h):
        rect = _hash_run(old, new, box, old_h, new_h, dy, seed) or matching_rect(
            old, new, box, 0, dy, (box.x, box.y + seed)
        )
        if rect is not None:
            return [Move(Rect(rect.x, rect.y - dy, rect.w, rect.h), 0, dy)]
    if old_bytes is None or box.w < MIN_2D_SIDE or box.h < MIN_2D_SIDE:
        return []
    changed = np.flatnonzero(np.array(old_h) != np.array(new_h)) + box.y
    ranked = sorted(_anchor_votes(old_bytes, new, box, changed).items(), key=lambda kv: -len(kv[1]))
    for (dx, dy), seeds in ranked[:3]:
        if len(seeds) < ANCHOR_VOTES:
            break
        for point in seeds[:3]:
            rect = matching_rect(old, new, box, dx, dy, point)
            if rect is not None:
                return [Move(Rect(rect.x - dx, rect.y - dy, rect.w, rect.h), dx, dy)]
    return []


def apply_move(picture: np.ndarray, move: Move) -> None:
    """What the viewer's COPY does, on a numpy picture (source read before the destination is written)."""
    s = move.src
    block = picture[s.y : s.y + s.h, s.x : s.x + s.w].copy()
    picture[s.y + move.dy : s.y + move.dy + s.h, s.x + move.dx : s.x + move.dx + s.w] = block
