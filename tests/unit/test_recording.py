"""Recording files: what goes in (display only), what comes out, damaged files refused."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from jiseki.gateway.recording import MAGIC, Recorder, RecordingError, read_recording
from jiseki.protocol import Clipboard, Codec, Desktop, FillOp, ImageOp, Key, Monitor, Status, StatusCode, Update, encode


async def test_records_display_messages_only(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "r.jrec.gz", {"session": "s1", "user": "k001"})
    display = [
        encode(Desktop(800, 600, (Monitor(0, 0, 800, 600),))),
        encode(Update(1, (FillOp(0, 0, 800, 600, 1, 2, 3), ImageOp(0, 0, 2, 2, Codec.WEBP, b"RIFF....WEBP")))),
    ]
    secrets = [
        encode(Clipboard("秘密のテキスト")),
        encode(Key(0x00070004, True)),
        encode(Status(StatusCode.WARNING, "idle:5")),
    ]
    for data in (display[0], secrets[0], secrets[1], display[1], secrets[2]):
        await rec.add(data)
    size = await rec.close()
    assert size == (tmp_path / "r.jrec.gz").stat().st_size
    meta, frames = read_recording(tmp_path / "r.jrec.gz")
    got = list(frames)
    assert meta == {"session": "s1", "user": "k001"}
    assert [data for _ms, data in got] == display
    assert all(ms >= 0 for ms, _ in got)
    raw = gzip.decompress((tmp_path / "r.jrec.gz").read_bytes())
    assert "秘密".encode() not in raw and raw.startswith(MAGIC)


def test_damaged_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"NOTAREC\n{}\n"))
    with pytest.raises(RecordingError, match="not a jiseki recording"):
        read_recording(bad)
    truncated = tmp_path / "t.gz"
    truncated.write_bytes(gzip.compress(MAGIC + b"{}\n" + b"\x00\x00\x00\x05\x00\x00\x00\x10abc"))
    _meta, frames = read_recording(truncated)
    with pytest.raises(RecordingError, match="truncated"):
        list(frames)
