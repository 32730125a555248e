"""The jiseki wire contract (no I/O): display messages and their byte codec, the agent's control
messages and their JSON form, every limit of both, and the key table."""

from .codec import AGENT_TO_VIEWER, VIEWER_TO_AGENT, decode, decode_from_agent, decode_from_viewer, encode
from .errors import ProtocolError
from .limits import *  # noqa: F403 - the limits are part of the contract
from .messages import *  # noqa: F403 - the message vocabulary is this package's API
from .messages import PROTOCOL_VERSION

__all__ = [
    "AGENT_TO_VIEWER",
    "PROTOCOL_VERSION",
    "VIEWER_TO_AGENT",
    "ProtocolError",
    "decode",
    "decode_from_agent",
    "decode_from_viewer",
    "encode",
]
