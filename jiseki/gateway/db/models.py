"""SQLAlchemy 2 models. Every schema change is an Alembic migration under `migrations/versions`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Host(Base):
    """An office PC with an agent: identified by its agent certificate's fingerprint."""

    __tablename__ = "hosts"
    # (name, id): the console's list pages through PCs in this order without sorting (0003).
    __table_args__ = (Index("ix_hosts_name", "name", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    cert_fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    cert_serial: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str | None] = mapped_column(String(255))
    os: Mapped[str | None] = mapped_column(String(255))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    host_group_id: Mapped[int | None] = mapped_column(ForeignKey("host_groups.id"), index=True)
    control_node: Mapped[str | None] = mapped_column(String(64), index=True)  # node holding its control channel
    # 0003: shown in the console and the portal; `locked` and `signed_in_user` come from the agent.
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_version: Mapped[str | None] = mapped_column(String(64))
    capture_method: Mapped[str | None] = mapped_column(String(16))  # as the agent reported: dxgi, gdi, x11
    capture_note: Mapped[str | None] = mapped_column(String(200))  # why not the best method
    agent_service: Mapped[str | None] = mapped_column(String(16))  # 0009: "windows-service" or "process"
    signed_in_user: Mapped[str | None] = mapped_column(String(255))
    # 0012: the PC's network interfaces as the agent reported them, JSON:
    # [{"mac": "52:54:00:12:34:56", "address": "10.10.1.23", "prefix": 24, "broadcast": "10.10.1.255"}]
    network: Mapped[str | None] = mapped_column(Text)
    wake_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # 0012: the last 電源オン
    wake_requested_by: Mapped[str | None] = mapped_column(String(64))  # 0012


class Session(Base):
    """One remote-control session, from request to its end with a reason."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host_id: Mapped[str] = mapped_column(ForeignKey("hosts.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # requested / live / ended
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    viewer_address: Mapped[str | None] = mapped_column(String(64))
    bytes_to_viewer: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_to_agent: Mapped[int] = mapped_column(BigInteger, default=0)
    updates: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    terminal_id: Mapped[str | None] = mapped_column(String(64))
    node_id: Mapped[str | None] = mapped_column(String(64), index=True)  # node relaying it
    # 0003: an administrator ended the session; the staff member sees the message on My PCs and
    # cannot start a new session to this PC before `reconnect_after`.
    end_message: Mapped[str | None] = mapped_column(String(255))
    ended_by: Mapped[str | None] = mapped_column(String(64))
    reconnect_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# ---- trust: certificates, terminals, staff, enrollment (migration 0002) ----------------------


class Certificate(Base):
    """Every client certificate the CA issued; revocation is checked against this table."""

    __tablename__ = "certificates"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # terminal / agent
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(255))


class Terminal(Base):
    """A registered telework terminal, identified by its certificate."""

    __tablename__ = "terminals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    cert_fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="active")  # active / revoked
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_seen_address: Mapped[str | None] = mapped_column(String(64))
    # 0007: the viewer's choices on this terminal (the viewer stores nothing in the browser).
    view_zoom: Mapped[str | None] = mapped_column(String(8))  # "fit", "100", ...; None: fit
    layout_told: Mapped[str | None] = mapped_column(String(64))  # office PC layout the user was told about


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    """A staff account. `id` is the login id."""

    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_display_name", "display_name", "id"),  # 0003: the staff list by name
        Index("ix_users_reading", "reading", "id"),  # 0010: ... and by reading
        Index("ix_users_webauthn_handle", "webauthn_handle", unique=True),  # 0011
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="staff")
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[str | None] = mapped_column(String(255))  # encrypted at rest (Fernet)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    language: Mapped[str | None] = mapped_column(String(8))  # 0003: ja / en; None = the default
    reading: Mapped[str | None] = mapped_column(String(255))  # 0010: 読み仮名, for あいうえお order and search
    # 0011: "local" (password here) or "directory" (bound against LDAP/Active Directory at login)
    source: Mapped[str] = mapped_column(String(16), default="local", server_default="local")
    # 0011: for a directory account, whether the local password (break-glass) may still be used
    local_password: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    directory_dn: Mapped[str | None] = mapped_column(String(1024))  # 0011: the entry last seen
    directory_synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # 0011
    # 0011: WebAuthn's user handle, random (never the login ID: authenticators may show or sync it)
    webauthn_handle: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255))  # 0012: where this person's alerts go


class Assignment(Base):
    """Which staff may operate which office PC."""

    __tablename__ = "assignments"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    host_id: Mapped[str] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebSession(Base):
    """A logged-in browser: bound to one user and one terminal. `id` is the SHA-256 of the cookie."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))  # totp_enroll / password / full
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    challenge: Mapped[str | None] = mapped_column(String(128))  # 0011: the pending WebAuthn challenge
    challenge_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # 0011: when it was issued


class EnrollmentToken(Base):
    """A one-time, expiring token that lets one agent obtain its certificate. `id` is the SHA-256."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host_id: Mapped[str] = mapped_column(String(64))
    host_name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    used_by_address: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(Base):
    """Security-relevant events (logins, refusals, enrollment, sessions, admin actions)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # ok / denied / error
    actor: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(128), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str | None] = mapped_column(Text)
    # Set by the sealer (audit/store.py): the record's place in the hash chain.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


# ---- policies (migration 0004) ---------------------------------------------------------------


class HostGroup(Base):
    __tablename__ = "host_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class PolicyRow(Base):
    """Session rules for one department or one host group; NULL means "not set here"."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("scope", "target_id", name="uq_policies_scope_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16))  # department / host_group
    target_id: Mapped[int] = mapped_column(Integer)
    clipboard: Mapped[str | None] = mapped_column(String(16))
    clipboard_max_bytes: Mapped[int | None] = mapped_column(Integer)
    view_only: Mapped[bool | None] = mapped_column(Boolean)
    idle_minutes: Mapped[int | None] = mapped_column(Integer)
    max_minutes: Mapped[int | None] = mapped_column(Integer)
    days: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[str | None] = mapped_column(String(5))
    end: Mapped[str | None] = mapped_column(String(5))
    conflict: Mapped[str | None] = mapped_column(String(16))
    watermark: Mapped[bool | None] = mapped_column(Boolean)
    lock_on_end: Mapped[bool | None] = mapped_column(Boolean)
    curtain: Mapped[bool | None] = mapped_column(Boolean)
    record: Mapped[bool | None] = mapped_column(Boolean)
    on_holidays: Mapped[bool | None] = mapped_column(Boolean)  # 0010: sessions allowed on holidays and closed days
    # 0011: the login's second factor (totp / webauthn / either); departments and the organisation only
    second_factor: Mapped[str | None] = mapped_column(String(16))
    wake: Mapped[bool | None] = mapped_column(Boolean)  # 0012: staff may power on the PC (Wake-on-LAN)
    wake_before_minutes: Mapped[int | None] = mapped_column(Integer)  # 0013: scheduled power-on
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


# ---- audit chain state (migration 0005) ---------------------------------------------------------


class AuditAnchor(Base):
    """Where the chain starts after retention purges: the last purged record's seq and hash."""

    __tablename__ = "audit_anchor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    purged_count: Mapped[int] = mapped_column(BigInteger, default=0)
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class AuditState(Base):
    """Small key/value state of the audit machinery (e.g. the last record forwarded to syslog)."""

    __tablename__ = "audit_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class Recording(Base):
    """A session's recorded display stream (file under the recordings directory)."""

    __tablename__ = "recordings"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_by: Mapped[str | None] = mapped_column(String(64))


class Node(Base):
    """A gateway node: alive while its heartbeat is recent."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)


class StagedImport(Base):
    """An uploaded CSV between its preview and the administrator's confirmation (0003).

    Kept in the database, not in memory, so the confirmation may reach any gateway node. Staff and
    assignment CSVs hold no secrets; rows expire after an hour and are deleted when confirmed.
    """

    __tablename__ = "staged_imports"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # staff / assignments
    actor: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


# ---- administration at prefecture scale (migration 0010) ---------------------------------------


class AdminScope(Base):
    """What a delegated administrator or helpdesk member looks after (所掌範囲): departments and PC
    groups. A console account with no rows here sees the whole organisation."""

    __tablename__ = "admin_scopes"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # department / host_group
    target_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Job(Base):
    """A long administrative task (a CSV import) run in the background; the page polls its progress.

    `content` is the uploaded file (no secrets). `secret_result` (the initial passwords of created
    accounts) is encrypted like TOTP secrets and erased once downloaded or when the job expires."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))  # queued / running / done / failed
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    options: Mapped[str | None] = mapped_column(Text)  # JSON
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    node_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(Text)  # JSON: counts and per-row outcomes
    secret_result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class ClosedDay(Base):
    """A day the organisation is closed beyond the national holidays (年末年始, 県民の日)."""

    __tablename__ = "closed_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (JST)
    name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebAuthnCredential(Base):
    """A security key or passkey registered by a staff member (WebAuthn), named by them."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url, as browsers send it
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    transports: Mapped[str | None] = mapped_column(String(255))  # comma-separated
    discoverable: Mapped[bool | None] = mapped_column(Boolean)
    backed_up: Mapped[bool | None] = mapped_column(Boolean)  # a synced passkey
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class DirectoryRun(Base):
    """One directory synchronisation (or its dry run): when, who or what started it, what it counted."""

    __tablename__ = "directory_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(16))  # schedule / manual / cli
    actor: Mapped[str | None] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))  # running / done / failed
    node_id: Mapped[str | None] = mapped_column(String(64))
    counts: Mapped[str | None] = mapped_column(Text)  # JSON
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class AlertChoice(Base):
    """One kind of alert a console user chose to receive by mail (0012)."""

    __tablename__ = "alert_choices"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)


class AlertSent(Base):
    """An alert already sent, by its key (e.g. `cert_expiry:<serial>:7`): one INSERT claims it, so
    that several nodes and repeated checks send it once (0012)."""

    __tablename__ = "alerts_sent"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    node_id: Mapped[str | None] = mapped_column(String(64))


class ActionLink(Base):
    """A one-click, single-use, expiring link sent by mail (e.g. "this was not me: end the session and
    lock my account"). `id` is the SHA-256 of the token; `used_at` is set by one conditional UPDATE (0012)."""

    __tablename__ = "action_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class UserTerminal(Base):
    """A terminal a person has logged in from: the first login from a new one raises an alert (0012)."""

    __tablename__ = "user_terminals"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
