"""The agent's control channel: JSON text messages between the agent and the gateway (no I/O).

`REGISTRY` holds one entry per message type: its `type` string, class, sender, the fields in wire
order and the reading of hostile input. `parse` turns text into a value (or None for a type this
side does not know, so older and newer peers keep talking), `serialise` turns a value into the
exact text sent since version 1 (the vectors in tests/vectors/control_*.json pin the bytes).
"""

from __future__ import annotations

import ipaddress
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
    MAX_INTERFACES,
    MAX_NODE_URL,
    MAX_OFFER_PATH,
    MAX_OS,
    MAX_USER,
    MAX_WAKE_MACS,
)


class Sender(Enum):
    AGENT = "agent"
    GATEWAY = "gateway"


@dataclass(frozen=True, slots=True)
class NetInterface:
    """One IPv4 address of one of the PC's network interfaces (Wake-on-LAN needs the MAC and the subnet)."""

    mac: str  # lower case, "aa:bb:cc:dd:ee:ff"
    address: str  # dotted IPv4
    prefix: int  # 1..30
    broadcast: str  # the subnet's broadcast address (derived from address and prefix)

    def as_dict(self) -> dict[str, object]:
        return {"mac": self.mac, "address": self.address, "prefix": self.prefix, "broadcast": self.broadcast}


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
    network: tuple[NetInterface, ...] | None = None  # its IPv4 interfaces (at most MAX_INTERFACES)


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


@dataclass(frozen=True, slots=True)
class Wake:
    """Send a Wake-on-LAN magic packet for each of `macs` to `broadcast`, which must be the broadcast
    address of one of the agent's own subnets (the agent checks; it sends nothing anywhere else)."""

    id: str  # 32 lower-case hex digits: the answer names it
    macs: tuple[str, ...]
    broadcast: str


@dataclass(frozen=True, slots=True)
class WakeDone:
    """The agent's answer to a `wake`: `sent` packets sent, or why none (`refused`: not its subnet)."""

    id: str
    sent: int = 0
    error: str | None = None  # a short token: "refused", "failed"


ControlMessage = AgentHello | AgentState | Ping | Pong | Offer | Wake | WakeDone
C = TypeVar("C")

# ---- reading hostile fields -------------------------------------------------------------------

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 and C1: no host name needs one, PostgreSQL holds no NUL
_TOKEN = re.compile(rf"^[a-z0-9-]{{1,{MAX_CAPTURE_METHOD}}}\Z")
_SESSION_ID = re.compile(r"^[0-9a-f]{32}\Z")
_TICKET = re.compile(r"^[A-Za-z0-9_-]{20,128}\Z")
_SCALARS = (str, int, float, bool, type(None))
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}\Z")


def valid_mac(value: object) -> str | None:
    """A unicast MAC as "aa:bb:cc:dd:ee:ff" (upper case and "-" read too), or None."""
    if not isinstance(value, str) or len(value) != 17:
        return None
    mac = value.lower().replace("-", ":")
    if not _MAC.match(mac) or mac == "00:00:00:00:00:00" or int(mac[:2], 16) & 1:
        return None  # the all-zero address, multicast and broadcast are no NIC's
    return mac


def ipv4(value: object) -> ipaddress.IPv4Address | None:
    if not isinstance(value, str) or not _IPV4.match(value):
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        return None


def net_interface(raw: object) -> NetInterface | None:
    """One reported interface, or None if any part is unusable: a unicast MAC, an IPv4 address that
    is not loopback, link-local, multicast or unspecified, a prefix of 1..30; the broadcast address is
    derived from the address and prefix (a reported one that differs makes the entry unusable)."""
    if not isinstance(raw, dict):
        return None
    mac, address, prefix = valid_mac(raw.get("mac")), ipv4(raw.get("address")), raw.get("prefix")
    if mac is None or address is None or isinstance(prefix, bool) or not isinstance(prefix, int):
        return None
    if not 1 <= prefix <= 30 or address.is_loopback or address.is_link_local or address.is_multicast:
        return None
    if address.is_unspecified or address.is_reserved:
        return None
    broadcast = str(ipaddress.IPv4Network(f"{address}/{prefix}", strict=False).broadcast_address)
    if raw.get("broadcast") not in (None, broadcast) or str(address) == broadcast:
        return None
    return NetInterface(mac, str(address), prefix, broadcast)


def _network(raw: Mapping[str, object]) -> tuple[NetInterface, ...] | None:
    value = raw.get("network")
    if not isinstance(value, list):
        return None
    found = (net_interface(item) for item in value[: MAX_INTERFACES * 4])
    return tuple(dict.fromkeys(i for i in found if i is not None))[:MAX_INTERFACES]


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
        network=_network(raw),
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


def _wake_id(raw: Mapping[str, object]) -> str:
    value = raw.get("id")
    if not (isinstance(value, str) and _SESSION_ID.match(value)):
        raise ProtocolError("malformed wake: id")
    return value


def _wake_in(raw: Mapping[str, object]) -> Wake:
    macs, broadcast = raw.get("macs"), ipv4(raw.get("broadcast"))
    if not isinstance(macs, list) or not 1 <= len(macs) <= MAX_WAKE_MACS:
        raise ProtocolError(f"malformed wake: 1 to {MAX_WAKE_MACS} MAC addresses")
    valid = tuple(valid_mac(m) for m in macs)
    if any(m is None or m != original for m, original in zip(valid, macs, strict=True)):
        raise ProtocolError("malformed wake: a MAC address")
    if broadcast is None:
        raise ProtocolError("malformed wake: broadcast address")
    return Wake(_wake_id(raw), tuple(m for m in valid if m is not None), str(broadcast))


def _wake_done_in(raw: Mapping[str, object]) -> WakeDone:
    sent = raw.get("sent")
    count = sent if isinstance(sent, int) and not isinstance(sent, bool) and 0 <= sent <= MAX_WAKE_MACS * 2 else 0
    return WakeDone(_wake_id(raw), count, _token(raw, "error"))


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
        ("type", "hostname", "os", "version", "user", "locked", "capture", "capture_note", "service", "network"),
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
    ControlEntry("wake", Wake, Sender.GATEWAY, ("type", "id", "macs", "broadcast"), _wake_in, True),
    ControlEntry("wake_done", WakeDone, Sender.AGENT, ("type", "id", "sent", "error"), _wake_done_in, True),
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
        if isinstance(value, Mapping):
            out[key] = dict(value)
        elif isinstance(value, tuple):  # a wake's MACs, a hello's interfaces
            out[key] = [v.as_dict() if isinstance(v, NetInterface) else v for v in value]
        elif value is not None:
            out[key] = value
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
