"""The lines between the service and its worker (no I/O): one JSON object per line on the worker's
stdin (from the service) and stdout (to the service), each at most `MAX_LINE` bytes.

service → worker
- `{"op": "offer", "offer": {...}}`, first and once: the control channel's offer, as received
  (`protocol.control.to_object`), so the worker dials the gateway itself with the PC's certificate.
- `{"op": "stop", "why": "replaced" | "ended"}`: end the session cleanly ("replaced": a newer offer
  uses the PC now, do not lock; "ended": the service stops, lock as the policy says).

worker → service
- `{"op": "capture", "method": "gdi", "note": "..."}`: how the worker reads the screen (for the console).
- `{"op": "desktop", "name": "Winlogon"}`: the input desktop the worker switched to (for the log).
- `{"op": "sas"}`: the viewer sent Ctrl+Alt+Del: the service calls SendSAS (only a service may).
- `{"op": "lock"}`: LockWorkStation failed in the worker: the service locks the desk instead.

The worker exits 0 when the session is over and non-zero when it failed. Both sides are this agent,
but a worker runs in the user's session: the service reads its lines as it reads the network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from jiseki.protocol import ProtocolError
from jiseki.protocol.control import Offer, Sender, from_object, to_object
from jiseki.protocol.limits import MAX_CAPTURE_NOTE, MAX_CONTROL_MESSAGE

MAX_LINE = MAX_CONTROL_MESSAGE + 64  # an offer line: the control message and its envelope
_TOKEN = re.compile(r"^[a-z0-9-]{1,16}\Z")
_DESKTOP = re.compile(r"^[A-Za-z0-9 _-]{1,64}\Z")
STOP_REASONS = ("replaced", "ended")


@dataclass(frozen=True)
class StartOffer:
    offer: Offer


@dataclass(frozen=True)
class StopSession:
    why: str  # one of STOP_REASONS


@dataclass(frozen=True)
class CaptureInfo:
    method: str
    note: str = ""


@dataclass(frozen=True)
class DesktopSwitched:
    name: str


@dataclass(frozen=True)
class SecureAttention:
    pass


@dataclass(frozen=True)
class LockRequest:
    pass


ToWorker = StartOffer | StopSession
FromWorker = CaptureInfo | DesktopSwitched | SecureAttention | LockRequest


def encode(message: ToWorker | FromWorker) -> bytes:
    if isinstance(message, StartOffer):
        body: dict[str, object] = {"op": "offer", "offer": to_object(message.offer)}
    elif isinstance(message, StopSession):
        body = {"op": "stop", "why": message.why}
    elif isinstance(message, CaptureInfo):
        body = {"op": "capture", "method": message.method, "note": message.note}
    elif isinstance(message, DesktopSwitched):
        body = {"op": "desktop", "name": message.name}
    elif isinstance(message, SecureAttention):
        body = {"op": "sas"}
    else:
        body = {"op": "lock"}
    line = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
    if len(line) > MAX_LINE:
        raise ProtocolError(f"worker line of {len(line)} bytes exceeds {MAX_LINE}")
    return line


def _object(line: bytes) -> dict[str, object]:
    if len(line) > MAX_LINE:
        raise ProtocolError(f"worker line of {len(line)} bytes exceeds {MAX_LINE}")
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError("worker line is not JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
        raise ProtocolError("worker line is not an object with an op")
    return raw


def parse_to_worker(line: bytes) -> ToWorker:
    raw = _object(line)
    op = raw["op"]
    if op == "offer":
        offer = from_object(raw.get("offer"), Sender.GATEWAY)
        if not isinstance(offer, Offer):
            raise ProtocolError("worker line: the offer is not an offer")
        return StartOffer(offer)
    if op == "stop" and raw.get("why") in STOP_REASONS:
        return StopSession(str(raw["why"]))
    raise ProtocolError(f"worker line: unknown op {str(op)[:32]!r}")


def parse_from_worker(line: bytes) -> FromWorker:
    raw = _object(line)
    op = raw["op"]
    if op == "capture":
        method, note = raw.get("method"), raw.get("note", "")
        if not (isinstance(method, str) and _TOKEN.match(method)) or not isinstance(note, str):
            raise ProtocolError("worker line: malformed capture")
        return CaptureInfo(method, note[:MAX_CAPTURE_NOTE])
    if op == "desktop":
        name = raw.get("name")
        if not (isinstance(name, str) and _DESKTOP.match(name)):
            raise ProtocolError("worker line: malformed desktop name")
        return DesktopSwitched(name)
    if op == "sas":
        return SecureAttention()
    if op == "lock":
        return LockRequest()
    raise ProtocolError(f"worker line: unknown op {str(op)[:32]!r}")
