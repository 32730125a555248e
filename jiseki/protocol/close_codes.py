"""WebSocket close codes with a meaning in jiseki (docs/protocol.md, "Close codes")."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000  # the session ended; the close message is the end reason
    GOING_AWAY = 1001  # the agent stops, or the viewer page is left
    SERVICE_RESTART = 1012  # the gateway restarts (control channel)
    REPLACED = 4000  # a newer control channel of the same agent took over
    RESUMED_ELSEWHERE = 4001  # the session moved to a newer socket (a resume)
    COULD_NOT_RESUME = 4002  # the gateway could not hand the socket to the session; the viewer: bad data
    ENDED = 4003  # the gateway ended it from outside (revocation, logout, administrator): reason in the message
