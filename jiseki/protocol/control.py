"""The agent's control channel: JSON text messages between the agent and the gateway (no I/O).

`REGISTRY` holds one entry per message type: its `type` string, class, sender, the fields in wire
order and the reading of hostile input. `parse` turns text into a value (or None for a type this
side does not know, so older and newer peers keep talking), `serialise` turns a value into the
exact text sent since version 1 (the vectors in tests/vectors/control_*.json pin the bytes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from .errors import ProtocolError
from .limits import (
    MAX_AGENT_VERSION,
    MAX_CAPTURE_METHOD,
    MAX_CAPTURE_NOTE,
    MAX_CONTROL_MESSAGE,
    MAX_HOSTNAME,
    MAX_NODE_URL,
    MAX_OFFER_PATH,
    MAX_OS,
    MAX_USER,
)


class Sender(Enum):
    AGENT = "agent"
    GATEWAY = "gateway"


@dataclass(frozen=True, slots=True)
class AgentHello:
    """The agent's first message. A field the agent does not send (or sends with another type) is None."""

    hostname: str | None = None
    os: str | None = None
    version: str | None = None
    user: str | None = None  # signed in at the desk; "" = nobody
    locked: bool | None = None
    capture: str | None = None  # how the screen is read: "dxgi", "gdi", "x11" (a short token)
    capture_note: str | None = None  # why not the best method (e.g. "DuplicateOutput: E_NOTIMPL")
    service: str | None = None  # how the agent runs: "windows-service" or "process" (a short token)


@dataclass(frozen=True, slots=True)
class AgentState:
    """The desk's signed-in user, lock state or capture method changed; None: the platform cannot
    tell or nothing changed (keep the last)."""

    user: str | None = None
    locked: bool | None = None
    capture: str | None = None
    capture_note: str | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Pong:
    pass


@dataclass(frozen=True, slots=True)
class Offer:
    """A session for this PC: dial `url` (empty: the configured gateway) with `ticket`. `path` is
    `/sessions/{session}/agent`; the agent builds it from `session` itself."""

    session: str
    ticket: str
    path: str
    url: str = ""
    # The settings the agent enforces again (the gateway's `Effective.for_agent()`, read by
    # `agent.policy`): a plain mapping (a dict when parsed) of JSON scalars, so the two ends can grow
    # it without this module.
    policy: Mapping[str, object] = field(default_factory=dict)


ControlMessage = AgentHello | AgentState | Ping | Pong | Offer
C = TypeVar("C")

# ---- reading hostile fields -------------------------------------------------------------------

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 and C1: no host name needs one, PostgreSQL holds no NUL
_TOKEN = re.compile(rf"^[a-z0-9-]{{1,{MAX_CAPTURE_METHOD}}}\Z")
_SESSION_ID = re.compile(r"^[0-9a-f]{32}\Z")
_TICKET = re.compile(r"^[A-Za-z0-9_-]{20,128}\Z")
_SCALARS = (str, int, float, bool, type(None))


def _text(raw: Mapping[str, object], key: str, limit: int) -> str | None:
    """A reported text: None unless a string; control characters dropped, cut to `limit`."""
    value = raw.get(key)
    return _CONTROLS.sub("", value)[:limit] if isinstance(value, str) else None


def _token(raw: Mapping[str, object], key: str) -> str | None:
    """A short lower-case token ("gdi", "windows-service"), or None for anything else."""
    value = raw.get(key)
    return value if isinstance(value, str) and _TOKEN.match(value) else None


def _flag(raw: Mapping[str, object], key: str) -> bool | None:
    value = raw.get(key)
    return value if isinstance(value, bool) else None


def _node_url(value: object) -> str:
    """An https://host[:port] as sent, or "" (then the agent dials its configured gateway)."""
    if not isinstance(value, str) or not value or len(value) > MAX_NODE_URL:
        return ""
    try:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/") or parts.query:
            return ""
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""
    return value


def _policy(value: object) -> Mapping[str, object]:
    """The offer's policy subset: its scalar settings (anything else is the agent's restrictive default)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, _SCALARS)}


# ---- per type: the reading of what arrives ---------------------------------------------------


def _hello_in(raw: Mapping[str, object]) -> AgentHello:
    return AgentHello(
        hostname=_text(raw, "hostname", MAX_HOSTNAME),
        os=_text(raw, "os", MAX_OS),
        version=_text(raw, "version", MAX_AGENT_VERSION),
        user=_text(raw, "user", MAX_USER),
        locked=_flag(raw, "locked"),
        capture=_token(raw, "capture"),
        capture_note=_text(raw, "capture_note", MAX_CAPTURE_NOTE),
        service=_token(raw, "service"),
    )


def _state_in(raw: Mapping[str, object]) -> AgentState:
    return AgentState(
        user=_text(raw, "user", MAX_USER),
        locked=_flag(raw, "locked"),
        capture=_token(raw, "capture"),
        capture_note=_text(raw, "capture_note", MAX_CAPTURE_NOTE),
        service=_token(raw, "service"),
    )


def _offer_in(raw: Mapping[str, object]) -> Offer:
    session, ticket, path = raw.get("session"), raw.get("ticket"), raw.get("path")
    if not (isinstance(session, str) and _SESSION_ID.match(session)):
        raise ProtocolError("malformed session offer: session id")
    if not (isinstance(ticket, str) and _TICKET.match(ticket)):
        raise ProtocolError("malformed session offer: ticket")
    if not (isinstance(path, str) and len(path) <= MAX_OFFER_PATH and not _CONTROLS.search(path)):
        path = f"/sessions/{session}/agent"
    return Offer(session, ticket, path, _node_url(raw.get("url")), _policy(raw.get("policy")))


@dataclass(frozen=True, slots=True)
class ControlEntry(Generic[C]):
    """One control message type: everything `parse` and `serialise` know about it."""

    name: str  # the "type" field
    cls: type[C]
    sender: Sender
    layout: tuple[str, ...]  # the keys in wire order: "type" and the class's fields (None ones left out)
    read: Callable[[Mapping[str, object]], C]  # hostile fields in; ProtocolError if it cannot be used
    compact: bool  # separators "," and ":" (else json's default ", " and ": "), as each was first sent


REGISTRY: tuple[ControlEntry[Any], ...] = (
    ControlEntry(
        "hello",
        AgentHello,
        Sender.AGENT,
        ("type", "hostname", "os", "version", "user", "locked", "capture", "capture_note", "service"),
        _hello_in,
        False,
    ),
    ControlEntry(
        "state",
        AgentState,
        Sender.AGENT,
        ("type", "user", "locked", "capture", "capture_note", "service"),
        _state_in,
        False,
    ),
    ControlEntry("ping", Ping, Sender.AGENT, ("type",), lambda _raw: Ping(), True),
    ControlEntry("pong", Pong, Sender.GATEWAY, ("type",), lambda _raw: Pong(), True),
    ControlEntry(
        "offer", Offer, Sender.GATEWAY, ("policy", "type", "session", "ticket", "path", "url"), _offer_in, True
    ),
)
BY_NAME: dict[tuple[Sender, str], ControlEntry[Any]] = {(e.sender, e.name): e for e in REGISTRY}
BY_CLASS: dict[type, ControlEntry[Any]] = {e.cls: e for e in REGISTRY}


# ---- entry points -----------------------------------------------------------------------------


def to_object(msg: ControlMessage) -> dict[str, object]:
    """The message as a JSON object, keys in wire order (also how gateway nodes pass an offer on)."""
    entry = BY_CLASS[type(msg)]
    out: dict[str, object] = {}
    for key in entry.layout:
        value = entry.name if key == "type" else getattr(msg, key)
        if value is not None:
            out[key] = dict(value) if isinstance(value, Mapping) else value
    return out


def serialise(msg: ControlMessage) -> str:
    entry = BY_CLASS[type(msg)]
    return json.dumps(to_object(msg), separators=(",", ":") if entry.compact else None)


def from_object(raw: object, sender: Sender) -> ControlMessage | None:
    """A message from a decoded JSON value. None for what this side does not know (not an object,
    an unknown type, a type the other side sends): the caller ignores it or, first thing, hangs up."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    entry = BY_NAME.get((sender, kind)) if isinstance(kind, str) else None
    return entry.read(raw) if entry is not None else None


def parse(text: str | bytes, sender: Sender) -> ControlMessage | None:
    """One control message from `sender`; ProtocolError for text that is not JSON (or too long)."""
    if len(text) > MAX_CONTROL_MESSAGE:
        raise ProtocolError(f"control message of {len(text)} characters exceeds the limit of {MAX_CONTROL_MESSAGE}")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the parser's depth
        raise ProtocolError("control message is not JSON") from None
    return from_object(raw, sender)
