"""Regenerate tests/vectors/*.json from the Python codec (run after adding a message type).

The files are committed: both codecs are tested against them, so a change of byte layout on
either side fails a test instead of silently breaking the other side or old recordings.
"""

from __future__ import annotations

import json
from pathlib import Path

from jiseki.protocol import (
    Ack,
    Clipboard,
    Codec,
    CopyOp,
    CursorPos,
    CursorShape,
    Desktop,
    FillOp,
    Hello,
    ImageOp,
    Key,
    Monitor,
    Pointer,
    Refresh,
    Status,
    StatusCode,
    Text,
    Update,
    Wheel,
    encode,
)
from jiseki.protocol.jsonform import to_json

HERE = Path(__file__).parent

VALID = {
    "hello": Hello(1, 0),
    "hello_flags": Hello(1, 0xDEADBEEF),
    "desktop_one_monitor": Desktop(1920, 1080, (Monitor(0, 0, 1920, 1080),)),
    "desktop_two_monitors": Desktop(3840, 1080, (Monitor(0, 0, 1920, 1080), Monitor(1920, 0, 1920, 1080))),
    "desktop_negative_origin": Desktop(2560, 1024, (Monitor(-1280, 0, 1280, 1024), Monitor(0, 0, 1280, 1024))),
    "update_empty": Update(7, ()),
    "update_all_ops": Update(
        4294967295,
        (
            CopyOp(0, 51, 995, 800, 0, 0),
            FillOp(0, 0, 64, 64, 255, 128, 1),
            ImageOp(64, 0, 2, 1, Codec.JPEG, bytes.fromhex("ffd8ffe000104a464946")),
            ImageOp(16318, 16382, 2, 2, Codec.WEBP, b"RIFF\x00\x00\x00\x00WEBP"),
            ImageOp(1, 2, 3, 4, Codec.PNG, b"\x89PNG"),
        ),
    ),
    "cursor_shape": CursorShape(2, 1, 1, 0, bytes(range(8))),
    "cursor_pos": CursorPos(1919, 1079),
    "status_waiting": Status(StatusCode.WAITING_FOR_HOST, ""),
    "status_ended": Status(StatusCode.SESSION_ENDED, "host_disconnected"),
    "status_utf8": Status(StatusCode.HOST_OFFLINE, "自席PC"),
    "ack": Ack(123456, 17),
    "ack_max_decode": Ack(1, 65535),
    "key_a_down": Key(0x00070004, True),
    "key_zenkaku_up": Key(0x00070035, False),
    "key_intl_ro": Key(0x00070087, True),
    "pointer": Pointer(700, 760, 0x01),
    "pointer_all_buttons": Pointer(0, 0, 0x1F),
    "wheel_down": Wheel(0, 120),
    "wheel_fine": Wheel(-3, -32768),
    "refresh": Refresh(),
    "text_ascii": Text("hello"),
    "text_japanese": Text("日本語テスト ¥_"),
    "clipboard_empty": Clipboard(""),
    "clipboard_text": Clipboard("議事録\r\nline 2\t✓"),
    "status_warning": Status(StatusCode.WARNING, "idle:60"),
}

# (name, hex, direction): bytes that must be refused with a ProtocolError.
INVALID = [
    ("empty", "", "any"),
    ("unknown_type", "ff", "any"),
    ("truncated_hello", "0100", "any"),
    ("trailing_bytes", "0100010000000000", "any"),
    ("zero_width_desktop", "1000000438010000000000000438", "any"),
    ("no_monitors", "100780043800", "any"),
    ("rect_beyond_limit", "11000000010001" + "02" + "3ffe0000" + "0004" + "0001" + "000000", "any"),
    ("unknown_op", "1100000001000107", "any"),
    ("unknown_codec", "11000000010001" + "03" + "00000000" + "0001" + "0001" + "09" + "00000001" + "00", "any"),
    ("empty_image", "11000000010001" + "03" + "00000000" + "0001" + "0001" + "01" + "00000000", "any"),
    ("image_length_past_end", "11000000010001" + "03" + "00000000" + "0001" + "0001" + "01" + "000000ff" + "00", "any"),
    ("key_state_2", "210007000402", "any"),
    ("status_bad_utf8", "140100" + "02" + "c328", "any"),
    ("status_unknown_code", "1409000000", "any"),
    ("text_empty", "250000", "any"),
    ("text_too_long", "250401" + "61" * 1025, "any"),
    ("cursor_hotspot_outside", "12000100010001000000000000", "any"),
    ("update_from_viewer", "110000000100" + "00", "viewer"),
    ("key_from_agent", "210007000401", "agent"),
    ("clipboard_unknown_format", "30" + "02" + "00000001" + "41", "any"),
    ("clipboard_length_past_end", "30" + "01" + "00000005" + "41", "any"),
    ("clipboard_bad_utf8", "30" + "01" + "00000002" + "c328", "any"),
    ("clipboard_over_limit", "30" + "01" + "00100001", "any"),
]


def main() -> None:
    valid = [{"name": name, "hex": encode(msg).hex(), "message": to_json(msg)} for name, msg in VALID.items()]
    (HERE / "valid.json").write_text(json.dumps(valid, indent=1, ensure_ascii=False) + "\n", "utf-8")
    invalid = [{"name": n, "hex": h, "direction": d} for n, h, d in INVALID]
    (HERE / "invalid.json").write_text(json.dumps(invalid, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()
