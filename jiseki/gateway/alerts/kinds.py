"""The kinds of alert, their words, and the mail each one sends (subject and body, by language)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from jiseki.i18n import N_, format_jst, gettext, pick_language

NEW_TERMINAL = "new_terminal"
LOGIN_FAILURES = "login_failures"
LOCKOUT = "lockout"
REVOKED_TERMINAL = "revoked_terminal"
UNUSUAL_HOURS = "unusual_hours"
CERT_EXPIRY = "cert_expiry"
PC_OFFLINE = "pc_offline"
NODE_DOWN = "node_down"
AUDIT_CHAIN = "audit_chain"
TEST = "test"

LABELS: dict[str, str] = {
    NEW_TERMINAL: N_("Login from a terminal never used before"),
    LOGIN_FAILURES: N_("Repeated login failures"),
    LOCKOUT: N_("Account locked after failed logins"),
    REVOKED_TERMINAL: N_("Connection attempt with a revoked terminal"),
    UNUSUAL_HOURS: N_("Session started outside usual hours"),
    CERT_EXPIRY: N_("Certificate about to expire"),
    PC_OFFLINE: N_("Office PC offline for days"),
    NODE_DOWN: N_("Gateway node stopped"),
    AUDIT_CHAIN: N_("Audit trail chain broken"),
}
CHOOSABLE = tuple(LABELS)
# Alerts about one person's own account also go to that person (with the one-click link).
PERSONAL = frozenset({NEW_TERMINAL, LOCKOUT, UNUSUAL_HOURS})

SUBJECT_PREFIX = N_("[jiseki]")
# Each kind's body: one sentence with {placeholders}; the facts follow it, one per line.
_BODIES: dict[str, str] = {
    NEW_TERMINAL: N_("{user} logged in from a terminal not used before ({terminal})."),
    LOGIN_FAILURES: N_("Logins as {user} failed {count} times in a row."),
    LOCKOUT: N_("The account {user} was locked after repeated failed logins."),
    REVOKED_TERMINAL: N_("A revoked terminal certificate ({terminal}) tried to connect."),
    UNUSUAL_HOURS: N_("{user} started a session outside usual hours ({hours} JST)."),
    CERT_EXPIRY: N_("The certificate {name} expires in {days} days or less."),
    PC_OFFLINE: N_("The office PC {name} has not connected for {days} days or more."),
    NODE_DOWN: N_("The gateway node {name} stopped sending its heartbeat."),
    AUDIT_CHAIN: N_("The audit trail's hash chain does not verify: {problem}"),
    TEST: N_("This is a test mail from jiseki. Alerts will reach this address."),
}
_FACTS = {
    "at": N_("Time"),
    "address": N_("Address"),
    "terminal": N_("Terminal"),
    "user": N_("Login ID"),
    "expires": N_("Expires"),
    "last_seen": N_("Last connected"),
}
_PERSONAL_NOTE = N_("Not you? Open this link within {hours} hours to end your connections and lock your account.")
_PERSONAL_AFTER = N_("Then please contact the helpdesk.")
_FOOTER = N_("This mail was sent automatically by jiseki. Please do not reply to it.")


class _Facts(dict[str, object]):
    def __missing__(self, key: str) -> str:  # a fact not given reads as a dash, never a crash
        return "—"


def _fill(lang: str, msgid: str, values: Mapping[str, object]) -> str:
    try:
        return gettext(lang, msgid).format_map(_Facts(values))
    except (IndexError, ValueError):  # a broken translation: the English text
        return msgid.format_map(_Facts(values))


def compose(
    kind: str, facts: Mapping[str, object], language: str | None, link: str | None = None, link_hours: int = 24
) -> tuple[str, str]:
    """(subject, body) of one alert mail in `language` (Japanese unless "en"); dates in JST."""
    lang = pick_language(language)
    shown = {k: format_jst(v, lang=lang) if isinstance(v, dt.datetime) else str(v) for k, v in facts.items()}
    title = gettext(lang, LABELS.get(kind, N_("Test mail")))
    subject = f"{gettext(lang, SUBJECT_PREFIX)}{title}"
    lines = [_fill(lang, _BODIES[kind], shown), ""]
    for key, label in _FACTS.items():
        if key in shown:
            lines.append(f"{gettext(lang, label)}{'：' if lang == 'ja' else ': '}{shown[key]}")
    if link is not None:
        lines += ["", _fill(lang, _PERSONAL_NOTE, {"hours": link_hours}), link, gettext(lang, _PERSONAL_AFTER)]
    lines += ["", "-- ", gettext(lang, _FOOTER)]
    return subject, "\n".join(lines) + "\n"
