"""The backup file's format: several chunks round-trip; a wrong passphrase, chunks swapped or dropped
at a boundary, bytes appended or changed are all refused with the same message."""

from __future__ import annotations

import io
import os
import struct

import pytest

from jiseki.gateway.backup import _HEADER, BAD_FILE, CHUNK, BackupError, DecryptingReader, EncryptingWriter

PASS = b"correct horse battery"


def _seal(data: bytes) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, PASS)
    for start in range(0, len(data), 100_000):  # written in pieces that do not match the chunks
        writer.write(data[start : start + 100_000])
    writer.close()
    return out.getvalue()


def _open(sealed: bytes, passphrase: bytes = PASS) -> bytes:
    return io.BufferedReader(DecryptingReader(io.BytesIO(sealed), passphrase), CHUNK).read()


def _chunks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    header, rest, chunks = sealed[: _HEADER.size], sealed[_HEADER.size :], []
    while rest:
        (length,) = struct.unpack(">I", rest[:4])
        chunks.append(rest[: 4 + length])
        rest = rest[4 + length :]
    return header, chunks


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(2 * CHUNK + 12345)


@pytest.fixture(scope="module")
def sealed(data: bytes) -> bytes:
    return _seal(data)


def test_round_trip_over_several_chunks(data: bytes, sealed: bytes) -> None:
    assert len(_chunks(sealed)[1]) == 3
    assert _open(sealed) == data
    assert _open(_seal(b"")) == b""
    assert _open(_seal(b"x" * CHUNK)) == b"x" * CHUNK  # exactly one chunk: still marked as the last


def test_every_kind_of_damage_gives_one_message(sealed: bytes) -> None:
    header, chunks = _chunks(sealed)
    damaged = {
        "wrong passphrase": (sealed, b"another passphrase"),
        "cut at a chunk boundary": (header + b"".join(chunks[:2]), PASS),
        "chunks swapped": (header + chunks[1] + chunks[0] + chunks[2], PASS),
        "a byte appended": (sealed + b"\x00", PASS),
        "a byte changed": (sealed[:-5] + bytes([sealed[-5] ^ 1]) + sealed[-4:], PASS),
        "header changed": (sealed[:20] + bytes([sealed[20] ^ 1]) + sealed[21:], PASS),
        "cut in the header": (sealed[:10], PASS),
    }
    for name, (blob, passphrase) in damaged.items():
        with pytest.raises(BackupError) as caught:
            _open(blob, passphrase)
        assert str(caught.value) == BAD_FILE, name


def test_not_a_backup_and_a_later_version_are_named(sealed: bytes) -> None:
    with pytest.raises(BackupError, match="not a jiseki backup file"):
        _open(b"PK\x03\x04" + sealed[4:])
    with pytest.raises(BackupError, match="version 2 is not supported"):
        _open(sealed[:8] + b"\x02" + sealed[9:])
