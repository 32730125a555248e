"""Every limit of the wire contract, defined once (docs/protocol.md lists them).

A hostile peer must not make either side allocate or loop without bound, so each variable-size
field has a cap here. `core/protocol.js` mirrors the display ones; a test compares the two.
"""

from __future__ import annotations

# ---- display channel (binary) ----------------------------------------------------------------
MAX_COORD = 16384  # any x + w or y + h must stay within this
MAX_MONITORS = 16
MAX_OPS = 8192
MAX_AGENT_MESSAGE = 32 * 1024 * 1024  # one UPDATE may carry a full 4K frame of JPEG
MAX_CLIPBOARD_BYTES = 1024 * 1024  # hard cap; the session policy usually allows far less
MAX_VIEWER_MESSAGE = MAX_CLIPBOARD_BYTES + 16  # only CLIPBOARD can be this large; every other type is tiny
MAX_TEXT_BYTES = 1024
MAX_STATUS_BYTES = 256
MAX_CURSOR = 256  # cursor width/height
MAX_LAYOUT_NAME_BYTES = 64
MAX_LAYOUT_KEYS = 128
MAX_VIDEO_STREAMS = 16  # stream ids are 0 .. MAX_VIDEO_STREAMS - 1
MAX_VIDEO_SIZE = 4096  # a video rectangle's width and height (what browsers' decoders take)
MAX_VIDEO_FRAME = 4 * 1024 * 1024  # bytes of one access unit

# ---- control channel (JSON text between the agent and the gateway) ----------------------------
MAX_CONTROL_MESSAGE = 64 * 1024
# Text an agent reports is cut to these lengths (characters; they are the database columns' sizes).
MAX_HOSTNAME = 255
MAX_OS = 255
MAX_AGENT_VERSION = 64
MAX_USER = 255
MAX_CAPTURE_METHOD = 16  # a token: dxgi, gdi, x11
MAX_CAPTURE_NOTE = 200  # why the agent fell back to a slower capture method (shown in the console)
MAX_NODE_URL = 255  # the gateway node an offer names
MAX_OFFER_PATH = 255
MAX_INTERFACES = 16  # IPv4 interfaces an agent reports (more are dropped)
MAX_WAKE_MACS = 8  # MAC addresses in one `wake` (a PC's NICs)
