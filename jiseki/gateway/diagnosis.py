"""Why can this staff member not connect now? Every reason, each from the real state (「つながりません」).

One list of findings for the helpdesk's page (/admin/diagnose) and, in the staff's own wording, for
the portal: the account (the login decision's checks of auth/accounts.py: disabled, locked, password
to change, a directory account with its directory), the second factor (per the department's policy),
the terminals the person used lately (their certificates), and each office PC (assignment, its
certificate, online, the gateway node holding its control channel, in use, locked) with the session
request's own rules (`access.refusal`: an administrator's hold, days, hours, holidays and closed days,
with the next allowed time). Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.config_directory import DirectoryConfig
from jiseki.i18n import N_

from . import access
from .auth import second_factor, webauthn_keys
from .db.models import (
    AuditEvent,
    Certificate,
    DirectoryRun,
    Host,
    Node,
    Session,
    Terminal,
    User,
    UserTerminal,
    WebSession,
)
from .end_reasons import EndReason
from .hosts import hosts_of, is_assigned
from .nodes import DEAD_AFTER
from .scope import WHOLE, Scope

BLOCKING, WARNING, INFO, OK = "blocking", "warning", "info", "ok"
SEVERITIES = (BLOCKING, WARNING, INFO, OK)  # in the order the page lists them
EXPIRY_WARNING = dt.timedelta(days=30)
RECENT = dt.timedelta(days=90)  # terminals used within this time count as the person's
MAX_TERMINALS = 10
# The findings My office PCs tells the staff member beside the rules' refusal (offline shows as the state).
PORTAL_REASONS = ("in_use_refused", "node_dead")

# code: (what the helpdesk reads, what to do, what the staff member reads). Placeholders: {until},
# {time} (datetimes, shown in JST), {terminal}, {pc}, {node}, {user}, {factor}, {error}.
TEXTS: dict[str, tuple[str, str, str]] = {
    "account_ok": (
        N_("The account is enabled and not locked."),
        "",
        "",
    ),
    "disabled": (
        N_("The account is disabled."),
        N_("If the person should work remotely, an administrator enables the account on its page."),
        N_("This account was disabled. Please contact the helpdesk."),
    ),
    "locked": (
        N_("The account is locked after repeated failed logins, until {until}."),
        N_("Confirm it is the person, then unlock the account (button below), or let the lock expire."),
        N_("The account is locked after repeated failed logins until {until}. Please contact the helpdesk."),
    ),
    "must_change_password": (
        N_("The password must be changed at the next login."),
        N_("Tell the person they will be asked for a new password right after logging in."),
        N_("You will be asked to choose a new password at your next login."),
    ),
    "directory_disabled": (
        N_("This is a directory account, but directory sign-in is turned off and no break-glass password is allowed."),
        N_(
            "An administrator turns directory sign-in back on ([directory] enabled) or allows the break-glass password."
        ),
        N_("Login with your directory password is not available now. Please contact the helpdesk."),
    ),
    "directory_failed": (
        N_("This is a directory account and the last directory synchronisation failed at {time}: {error}"),
        N_("Check the directory's connection on the directory page (connection test)."),
        N_("The directory server may not be answering. Please try again later or contact the helpdesk."),
    ),
    "no_second_factor": (
        N_("No second factor is set up ({factor} is required)."),
        N_(
            "The person sets it up at the next login (an authenticator app on a smartphone, or a security key). If they cannot, they cannot log in."  # noqa: E501
        ),
        N_("At your next login you will be asked to set up {factor}."),
    ),
    "second_factor_ok": (N_("A second factor is set up ({factor} is required)."), "", ""),
    "no_terminals": (
        N_("No terminal was used by this person in the last 90 days."),
        N_("If the person has no registered terminal, register one on the terminals page."),
        "",
    ),
    "terminal_revoked": (
        N_("The certificate of terminal {terminal} is revoked."),
        N_("Issue a new certificate for the terminal (terminal page: reissue) if it should still be used."),
        N_("This terminal's certificate was revoked."),
    ),
    "terminal_expired": (
        N_("The certificate of terminal {terminal} expired on {time}."),
        N_("Issue a new certificate for the terminal (terminal page: reissue)."),
        N_("This terminal's certificate has expired. Please contact the helpdesk."),
    ),
    "terminal_expiring": (
        N_("The certificate of terminal {terminal} expires on {time}."),
        N_("Reissue it before it expires (terminal page: reissue)."),
        N_("This terminal's certificate expires on {time}."),
    ),
    "terminal_ok": (N_("The certificate of terminal {terminal} is valid until {time}."), "", ""),
    "no_pcs": (
        N_("No office PC is assigned to this person."),
        N_("Assign the person's office PC on the account page or the PC page."),
        N_("No office PC is assigned to you. Please contact the helpdesk."),
    ),
    "not_assigned": (
        N_("The office PC {pc} is not assigned to this person."),
        N_("If it is the person's PC, assign it on the PC page."),
        N_("This office PC is not registered."),
    ),
    "pc_revoked": (
        N_("The certificate of the office PC {pc} is revoked: its agent cannot connect."),
        N_("Enroll the PC again (enrollment token) if it should still be used."),
        N_("The office PC is offline."),
    ),
    "offline": (
        N_("The office PC {pc} is offline (last seen {time})."),
        N_(
            "The PC is off, asleep or without network, or its agent is stopped. Power it on remotely (button below) or ask someone at the office."  # noqa: E501
        ),
        N_("The office PC is offline."),
    ),
    "node_dead": (
        N_("The office PC {pc} is held by gateway node {node}, which has stopped answering."),
        N_("Another node takes over within a minute; if not, check the gateway servers."),
        N_("The gateway is restarting."),
    ),
    "online": (N_("The office PC {pc} is online (control channel on gateway node {node})."), "", ""),
    "in_use_refused": (
        N_("The office PC {pc} is in use by {user} since {time}; the policy refuses a second login."),
        N_("Ask the other user to disconnect, or end the session on the sessions page."),
        N_("This office PC is in use in another session."),
    ),
    "in_use_takeover": (
        N_("The office PC {pc} is in use by {user} since {time}; a new login takes the session over."),
        "",
        "",
    ),
    "pc_locked": (
        N_("The office PC {pc} is locked (Windows sign-in screen)."),
        N_("After connecting, the person signs in to Windows with their usual password."),
        "",
    ),
    "refused": (
        N_("The rules refuse a connection to {pc} now."),
        N_("Wait for the time shown, or change the policy on the policies page if it is wrong."),
        "",
    ),
    "held": (
        N_("An administrator ended this person's session on {pc} and chose a waiting time before they reconnect."),
        N_("Wait for the time shown; see the reason in the connection history or the audit log."),
        "",
    ),
    "view_only": (
        N_("Sessions to {pc} are view-only (policy: {policy}): the person can watch but not type."),
        "",
        "",
    ),
    "pc_ok": (N_("Nothing stops a connection to {pc} now."), "", ""),
}


@dataclass(frozen=True)
class Finding:
    code: str  # a key of TEXTS
    severity: str  # blocking / warning / info / ok
    params: dict[str, Any] = field(default_factory=dict)  # str, or datetimes (UTC) shown in JST
    host_id: str | None = None  # the office PC it is about, if any
    terminal_id: str | None = None  # the terminal it is about, if any
    refusal: access.Refusal | None = None  # the refusal ("refused", "held"): its text is the portal's

    @property
    def msgid(self) -> str:
        return TEXTS[self.code][0]

    @property
    def action(self) -> str:
        """What the helpdesk does (catalogue id; empty: nothing to do)."""
        return TEXTS[self.code][1]

    @property
    def staff(self) -> str:
        """The staff member's wording (catalogue id; empty: nothing to tell them)."""
        return TEXTS[self.code][2]


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == BLOCKING]


def ordered(findings: list[Finding]) -> list[Finding]:
    """Blocking first, then warnings, information, and what is fine (stable within each)."""
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


async def account_findings(
    s: AsyncSession, user: User, directory: DirectoryConfig | None, now: dt.datetime
) -> list[Finding]:
    found: list[Finding] = []
    if user.disabled:
        found.append(Finding("disabled", BLOCKING))
    if user.locked_until is not None and user.locked_until > now:
        found.append(Finding("locked", BLOCKING, {"until": user.locked_until}))
    if user.must_change_password:
        found.append(Finding("must_change_password", WARNING))
    if user.source == "directory":
        break_glass = user.local_password and directory is not None and directory.local_password == "allowed"  # noqa: S105
        if (directory is None or not directory.enabled) and not break_glass:
            found.append(Finding("directory_disabled", BLOCKING))
        else:
            last = (
                await s.execute(
                    select(DirectoryRun)
                    .where(DirectoryRun.state.in_(("done", "failed")))
                    .order_by(DirectoryRun.started_at.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if last is not None and last.state == "failed":
                error = (last.error or "").splitlines()[0][:200] if last.error else "—"
                found.append(
                    Finding("directory_failed", WARNING, {"time": last.finished_at or last.started_at, "error": error})
                )
    if not found:
        found.append(Finding("account_ok", OK))
    return found


async def second_factor_findings(s: AsyncSession, user: User) -> list[Finding]:
    factor = await second_factor.effective(s, user)
    totp_ready = bool(user.totp_enabled and user.totp_secret)
    keys = await webauthn_keys.key_count(s, user.id) if factor != second_factor.TOTP else 0
    ready = {second_factor.TOTP: totp_ready, second_factor.WEBAUTHN: keys > 0}.get(factor, totp_ready or keys > 0)
    params = {"factor": second_factor.LABELS[factor]}  # a catalogue id, translated when shown
    return [Finding("second_factor_ok" if ready else "no_second_factor", OK if ready else WARNING, params)]


async def recent_terminals(s: AsyncSession, user_id: str, now: dt.datetime) -> list[Terminal]:
    """The terminals this person used lately: recorded per person, web sessions, sessions, audited logins."""
    since = now - RECENT
    seen = select(UserTerminal.terminal_id).where(UserTerminal.user_id == user_id, UserTerminal.last_seen >= since)
    web = select(WebSession.terminal_id).where(WebSession.user_id == user_id, WebSession.last_seen_at >= since)
    used = select(Session.terminal_id).where(Session.user_id == user_id, Session.created_at >= since)
    logins = select(AuditEvent.subject).where(
        AuditEvent.kind == "login", AuditEvent.actor == user_id, AuditEvent.ts >= since
    )  # the audited logins: their subject is the terminal
    ids = seen.union(web, used, logins).subquery()
    query = select(Terminal).where(Terminal.id.in_(select(ids.c[0]))).order_by(Terminal.last_seen_at.desc())
    return list((await s.execute(query.limit(MAX_TERMINALS))).scalars())


async def terminal_findings(s: AsyncSession, user_id: str, now: dt.datetime) -> list[Finding]:
    terminals = await recent_terminals(s, user_id, now)
    if not terminals:
        return [Finding("no_terminals", INFO)]
    found = []
    for terminal in terminals:
        cert = await s.get(Certificate, terminal.cert_fingerprint) if terminal.cert_fingerprint else None
        params: dict[str, Any] = {"terminal": f"{terminal.name} ({terminal.id})"}
        if terminal.state == "revoked" or cert is None or cert.revoked_at is not None:
            found.append(Finding("terminal_revoked", BLOCKING, params, terminal_id=terminal.id))
        elif cert.not_after <= now:
            found.append(
                Finding("terminal_expired", BLOCKING, {**params, "time": cert.not_after}, terminal_id=terminal.id)
            )
        elif cert.not_after <= now + EXPIRY_WARNING:
            found.append(
                Finding("terminal_expiring", WARNING, {**params, "time": cert.not_after}, terminal_id=terminal.id)
            )
        else:
            found.append(Finding("terminal_ok", OK, {**params, "time": cert.not_after}, terminal_id=terminal.id))
    return found


async def pc_findings(s: AsyncSession, user_id: str, host: Host, now: dt.datetime) -> list[Finding]:
    """Why a session request from this person to this PC would fail now, in the order it would."""
    pc = {"pc": f"{host.name} ({host.id})"}
    if not await is_assigned(s, user_id, host.id):
        return [Finding("not_assigned", BLOCKING, pc, host.id)]
    found: list[Finding] = []
    refusal, policy = await access.refusal(s, user_id, host.id, now)
    if refusal is not None:
        code = "held" if refusal.reason == EndReason.ADMIN else "refused"  # an administrator's hold, or the policy
        found.append(Finding(code, BLOCKING, pc, host.id, refusal=refusal))
    cert = await s.get(Certificate, host.cert_fingerprint)
    if cert is None or cert.revoked_at is not None:
        found.append(Finding("pc_revoked", BLOCKING, pc, host.id))
    elif not host.online:
        found.append(Finding("offline", BLOCKING, {**pc, "time": host.last_seen}, host.id))
    else:
        node = await s.get(Node, host.control_node) if host.control_node else None
        if node is None or node.heartbeat_at < now - DEAD_AFTER:
            found.append(Finding("node_dead", BLOCKING, {**pc, "node": host.control_node or "—"}, host.id))
        else:
            found.append(Finding("online", OK, {**pc, "node": node.id}, host.id))
        live = (
            await s.execute(
                select(Session.user_id, func.coalesce(Session.started_at, Session.created_at))
                .where(Session.host_id == host.id, Session.state == "live")
                .limit(1)
            )
        ).first()
        if live is not None:
            code, severity = ("in_use_refused", BLOCKING) if policy.conflict == "refuse" else ("in_use_takeover", INFO)
            found.append(Finding(code, severity, {**pc, "user": live[0] or "—", "time": live[1]}, host.id))
        if host.locked:
            found.append(Finding("pc_locked", INFO, pc, host.id))
    if policy.view_only:
        found.append(Finding("view_only", INFO, {**pc, "policy": policy.sources.get("view_only", "")}, host.id))
    if not blocking(found):
        found.append(Finding("pc_ok", OK, pc, host.id))
    return found


async def diagnose(
    s: AsyncSession,
    directory: DirectoryConfig | None,
    user_id: str,
    host_id: str | None,
    now: dt.datetime,
    scope: Scope = WHOLE,
) -> list[Finding]:
    """Every reason this person's connection would fail now (blocking first). `host_id`: one PC (it
    must exist: the caller checks it and its scope); None: every PC assigned to the person within
    `scope` (the console user's 所掌範囲: a PC outside it is not mentioned)."""
    user = await s.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    found = await account_findings(s, user, directory, now)
    found += await second_factor_findings(s, user)
    found += await terminal_findings(s, user_id, now)
    if host_id is not None:
        host = await s.get(Host, host_id)
        if host is None:
            raise LookupError(host_id)
        found += await pc_findings(s, user_id, host, now)
    else:
        hosts = [h for h in await hosts_of(s, user_id) if scope.everything or await scope.has_host(s, h.id)]
        if not hosts:
            found.append(Finding("no_pcs", BLOCKING))
        for host in hosts:
            found += await pc_findings(s, user_id, host, now)
    return ordered(found)


async def person(s: AsyncSession, login_id: str) -> User | None:
    return await s.get(User, login_id)


async def pc_exists(s: AsyncSession, host_id: str) -> bool:
    return await s.get(Host, host_id) is not None
