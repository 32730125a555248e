"""Why a session ended: the reason keys stored with each session, told to the viewer (translated
there) and audited; and which of them are final (the viewer must not start again by itself).

A module of its own so that every part (broker, relay, session runner, pages) can name a reason
without importing the broker.
"""

from __future__ import annotations

from jiseki.i18n import N_


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
            "holiday",  # refused on a national holiday or a closed day (the policy's on_holidays)
            "closed_day",
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


# Short words for each end reason, for the console's session history, its filter and the audit log
# (the viewer tells the person at the terminal in sentences of its own: pages.VIEWER_STRINGS).
END_REASON_LABELS = {
    EndReason.VIEWER_CLOSED: N_("Disconnected by the staff member"),
    EndReason.HOST_DISCONNECTED: N_("The office PC disconnected"),
    EndReason.HOST_OFFLINE: N_("Office PC offline"),
    EndReason.HOST_TIMEOUT: N_("No answer from the office PC"),
    EndReason.PROTOCOL_ERROR: N_("Invalid data"),
    EndReason.GATEWAY_SHUTDOWN: N_("Gateway restart"),
    EndReason.CERTIFICATE_REVOKED: N_("Terminal certificate revoked"),
    EndReason.LOGGED_OUT: N_("Logged out"),
    EndReason.IDLE: N_("Idle timeout"),
    EndReason.MAX_LENGTH: N_("Maximum session length reached"),
    EndReason.HOURS: N_("End of the allowed hours"),
    "days": N_("Not an allowed day"),
    "holiday": N_("A national holiday"),
    "closed_day": N_("A closed day of the office"),
    EndReason.TAKEOVER: N_("Taken over by a newer connection"),
    EndReason.ADMIN: N_("Ended by an administrator"),
    EndReason.NETWORK: N_("Connection lost"),
    EndReason.POLICY_CHANGE: N_("The policy changed"),
    EndReason.IN_USE: N_("In use in another session"),
    EndReason.ACCOUNT_DISABLED: N_("Account disabled"),
    EndReason.LOGIN_REQUIRED: N_("Sign-in required again"),
    EndReason.LOGIN_EXPIRED: N_("Login expired"),
    EndReason.PASSWORD_CHANGED: N_("Password changed"),
    EndReason.NOT_CONNECTED: N_("Not connected in time"),
    "unknown_host": N_("Unregistered office PC"),
}
UNKNOWN_END_REASON = N_("Other ({code})")  # a reason this version has no words for: its code, visibly
