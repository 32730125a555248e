"""Why a session ended: the reason keys stored with each session, told to the viewer (translated
there) and audited; and which of them are final (the viewer must not start again by itself).

A module of its own so that every part (broker, relay, session runner, pages) can name a reason
without importing the broker.
"""

from __future__ import annotations


class EndReason:
    """Reason keys stored with each ended session and shown (translated) to the user."""

    VIEWER_CLOSED = "viewer_closed"
    HOST_DISCONNECTED = "host_disconnected"
    HOST_OFFLINE = "host_offline"
    HOST_TIMEOUT = "host_timeout"
    PROTOCOL_ERROR = "protocol_error"
    GATEWAY_SHUTDOWN = "gateway_shutdown"
    CERTIFICATE_REVOKED = "certificate_revoked"
    LOGGED_OUT = "logged_out"
    IDLE = "idle"
    MAX_LENGTH = "max_length"
    HOURS = "hours"
    TAKEOVER = "takeover"
    ADMIN = "admin"  # ended in the console; the administrator's message is kept in sessions.end_message
    NETWORK = "network"
    POLICY_CHANGE = "policy_change"
    IN_USE = "in_use"
    ACCOUNT_DISABLED = "account_disabled"
    LOGIN_REQUIRED = "login_required"  # the password or one-time code was reset: sign in again
    LOGIN_EXPIRED = "login_expired"  # the web session behind the viewer expired (idle or maximum age)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason; every session of the account ends
    NOT_CONNECTED = "not_connected"  # the viewer never used its ticket

    # Ends after which the viewer must not start a new session by itself: the same request would be
    # refused, or someone (the user, an administrator, a rule) meant the session to stop. The viewer
    # shows why and lets the user decide. The others (a broken link, an offline PC, a restart) may
    # heal by themselves, so the viewer tries again.
    FINAL = frozenset(
        {
            VIEWER_CLOSED,
            CERTIFICATE_REVOKED,
            LOGGED_OUT,
            IDLE,
            MAX_LENGTH,
            HOURS,
            "days",
            TAKEOVER,
            ADMIN,
            POLICY_CHANGE,
            IN_USE,
            ACCOUNT_DISABLED,
            LOGIN_REQUIRED,
            LOGIN_EXPIRED,
            PASSWORD_CHANGED,
            "unknown_host",
        }
    )
