"""The jiseki display protocol: message values, their byte codec and the key table (no I/O)."""

from .codec import decode, decode_from_agent, decode_from_viewer, encode
from .errors import ProtocolError
from .messages import *  # noqa: F403 - the message vocabulary is this package's API
from .messages import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION", "ProtocolError", "decode", "decode_from_agent", "decode_from_viewer", "encode"]
