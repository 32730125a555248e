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
    KeyboardLayout,
    LayoutKey,
    Locks,
    Monitor,
    Pointer,
    Refresh,
    Status,
    StatusCode,
    Text,
    Update,
    VideoCodec,
    VideoEndOp,
    VideoOp,
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
    "keyboard_layout_jp": KeyboardLayout(
        "jp106/jp",
        (LayoutKey(0x04, ord("a")), LayoutKey(0x2F, ord("@")), LayoutKey(0x87, ord("\\")), LayoutKey(0x89, ord("\\"))),
    ),
    "keyboard_layout_unknown": KeyboardLayout("", ()),
    "keyboard_layout_astral": KeyboardLayout("日本語 (JIS)", (LayoutKey(0xE7, 0x10FFFF),)),
    "locks_caps_on": Locks(0x07, 0x01),
    "locks_none_known": Locks(0, 0),
    "locks_all": Locks(0x0F, 0x0F),
    "clipboard_empty": Clipboard(""),
    "clipboard_text": Clipboard("議事録\r\nline 2\t✓"),
    "status_warning": Status(StatusCode.WARNING, "idle:60"),
    "hello_video_caps": Hello(1, 0x03),
    "update_video": Update(
        42,
        (
            VideoOp(0, 320, 200, 640, 360, VideoCodec.H264, True, bytes.fromhex("000000016742c01e00000165")),
            VideoOp(0, 320, 200, 640, 360, VideoCodec.H264, False, bytes.fromhex("0000000141")),
            VideoOp(15, 0, 0, 4096, 2, VideoCodec.VP8, False, b"\x31"),
            VideoEndOp(0),
            VideoEndOp(15),
        ),
    ),
}

_VIDEO_OP = "11000000010001" + "04"  # an UPDATE with one VIDEO operation

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
    ("locks_unknown_bit", "281000", "any"),
    ("locks_state_not_known", "280102", "any"),
    ("locks_truncated", "2801", "any"),
    ("locks_from_agent", "280101", "agent"),
    ("layout_from_viewer", "180000", "viewer"),
    ("layout_keys_not_ascending", "1800" + "02" + "2f00000040" + "0400000061", "any"),
    ("layout_key_twice", "1800" + "02" + "0400000061" + "0400000061", "any"),
    ("layout_surrogate", "1800" + "01" + "040000d800", "any"),
    ("layout_codepoint_too_big", "1800" + "01" + "0400110000", "any"),
    ("layout_control_character", "1800" + "01" + "040000000a", "any"),
    ("layout_name_control", "1801" + "1b" + "00", "any"),
    ("layout_name_too_long", "1841" + "61" * 65 + "00", "any"),
    ("layout_too_many_keys", "1800" + "81" + "".join(f"{i:02x}00000061" for i in range(129)), "any"),
    ("layout_keys_past_end", "1800" + "02" + "0400000061", "any"),
    ("clipboard_unknown_format", "30" + "02" + "00000001" + "41", "any"),
    ("clipboard_length_past_end", "30" + "01" + "00000005" + "41", "any"),
    ("clipboard_bad_utf8", "30" + "01" + "00000002" + "c328", "any"),
    ("clipboard_over_limit", "30" + "01" + "00100001", "any"),
    ("video_stream_out_of_range", _VIDEO_OP + "10" + "0000000000100010" + "01" + "01" + "00000001" + "00", "any"),
    ("video_unknown_codec", _VIDEO_OP + "00" + "0000000000100010" + "03" + "01" + "00000001" + "00", "any"),
    ("video_unknown_flags", _VIDEO_OP + "00" + "0000000000100010" + "01" + "02" + "00000001" + "00", "any"),
    ("video_empty_frame", _VIDEO_OP + "00" + "0000000000100010" + "01" + "01" + "00000000", "any"),
    ("video_too_wide", _VIDEO_OP + "00" + "0000000010010010" + "01" + "01" + "00000001" + "00", "any"),
    ("video_frame_over_limit", _VIDEO_OP + "00" + "0000000000100010" + "01" + "00" + "00400001" + "00", "any"),
    ("video_rect_beyond_limit", _VIDEO_OP + "00" + "3ff00000" + "00200010" + "01" + "00" + "00000001" + "00", "any"),
    ("video_length_past_end", _VIDEO_OP + "00" + "0000000000100010" + "01" + "00" + "00000009" + "00", "any"),
    ("video_end_out_of_range", "11000000010001" + "05" + "ff", "any"),
    ("video_end_truncated", "11000000010001" + "05", "any"),
]


def main() -> None:
    valid = [{"name": name, "hex": encode(msg).hex(), "message": to_json(msg)} for name, msg in VALID.items()]
    (HERE / "valid.json").write_text(json.dumps(valid, indent=1, ensure_ascii=False) + "\n", "utf-8")
    invalid = [{"name": n, "hex": h, "direction": d} for n, h, d in INVALID]
    (HERE / "invalid.json").write_text(json.dumps(invalid, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()
