"""The gateway check: a TLS handshake with the agent's certificate and a GET of `/healthz`, the way the
agent dials out, but without opening the control channel (that would register the agent online).

It proves the gateway is reachable from this PC through its proxies and firewalls, that its
certificate is signed by the CA pinned at enrollment, and that the TLS layer accepts our certificate
(whether the PC is still registered is decided when the agent connects)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from jiseki.config import AgentConfig
from jiseki.i18n import N_
from jiseki.trust.tls import client_ssl_context

from .checks import CheckResult, Note, Status
from .desk import describe

HEALTH_PATH = "/healthz"
TIMEOUT = 5.0
WARN_DAYS = 30  # renew before: an expired certificate takes the PC off the service


@dataclass(frozen=True)
class Exchange:
    tls_version: str
    handshake_ms: float
    round_trip_ms: float
    http_status: int
    gateway_cert_days: int | None


def _days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    return (not_after - now).days


class ProxyRefused(OSError):
    """The proxy did not open a tunnel to the gateway."""


def _connect(host: str, port: int, proxy: str) -> socket.socket:
    """A TCP connection to the gateway, through the proxy's CONNECT tunnel when one is set."""
    if not proxy:
        return socket.create_connection((host, port), timeout=TIMEOUT)
    parts = urlsplit(proxy)
    raw = socket.create_connection((parts.hostname or "", parts.port or 8080), timeout=TIMEOUT)
    try:
        raw.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii"))
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 8192:
            chunk = raw.recv(1)  # one byte at a time: nothing of the TLS that follows may be read here
            if not chunk:
                break
            answer += chunk
        status = answer.split(b" ", 2)[1] if answer.count(b" ") >= 1 else b"?"
        if status != b"200":
            raise ProxyRefused(f"the proxy {proxy} answered CONNECT with {status.decode(errors='replace')}")
    except BaseException:
        raw.close()
        raise
    return raw


def _exchange(host: str, port: int, context: ssl.SSLContext, now: dt.datetime, proxy: str = "") -> Exchange:
    start = time.perf_counter()
    with _connect(host, port, proxy) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            shaken = time.perf_counter()
            peer = tls.getpeercert()
            request = f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
            tls.sendall(request.encode("ascii"))
            # TLS 1.3 sends a refusal of our certificate after the handshake: it surfaces here.
            head = tls.recv(4096)
            answered = time.perf_counter()
            version = tls.version() or "?"
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    not_after = peer.get("notAfter") if peer else None
    days = None
    if isinstance(not_after, str):
        expiry = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), dt.UTC)
        days = _days_left(expiry, now)
    return Exchange(version, (shaken - start) * 1000, (answered - shaken) * 1000, status, days)


def _fail(note: Note, figures: dict[str, object], *more: Note) -> CheckResult:
    return CheckResult("gateway", Status.FAIL, note, figures, more)


def check_gateway(config: AgentConfig, now: dt.datetime | None = None) -> CheckResult:
    now = now or dt.datetime.now(dt.UTC)
    url = urlsplit(config.gateway_url)
    host, port = url.hostname or "", url.port or 443
    figures: dict[str, object] = {"gateway_url": config.gateway_url, "proxy_url": config.proxy_url or None}
    files = {name: config.cert_dir / name for name in ("ca.crt", "agent.crt", "agent.key")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        enroll = Note(N_("missing {files}: run `jiseki agent enroll` first"), {"files": missing})
        return _fail(enroll, figures)

    cert = x509.load_pem_x509_certificate(Path(files["agent.crt"]).read_bytes())
    agent_days = _days_left(cert.not_valid_after_utc, now)
    expiry = {"date": cert.not_valid_after_utc.date().isoformat(), "days": agent_days}
    figures.update(agent_cert_expires=expiry["date"], agent_cert_days_left=agent_days)
    expiry_note = Note(N_("agent certificate valid until {date} ({days} days left)"), expiry)
    if agent_days < 0:
        return _fail(Note(N_("the agent certificate expired on {date}: enroll again"), expiry), figures)

    where = {"host": host, "port": port}
    try:
        context = client_ssl_context(files["ca.crt"], files["agent.crt"], files["agent.key"])
        done = _exchange(host, port, context, now, config.proxy_url)
    except ssl.SSLCertVerificationError as exc:
        pinned = Note(
            N_("the gateway's certificate is not trusted by the pinned CA: {error}"), {"error": exc.verify_message}
        )
        return _fail(pinned, figures, expiry_note)
    except ssl.SSLError as exc:
        refused = Note(
            N_("TLS with {host}:{port} failed (our certificate refused?): {error}"), {**where, "error": describe(exc)}
        )
        return _fail(refused, figures, expiry_note)
    except OSError as exc:
        unreachable = Note(N_("cannot reach {host}:{port}: {error}"), {**where, "error": describe(exc)})
        return _fail(unreachable, figures, expiry_note)

    figures.update(
        tls_version=done.tls_version,
        handshake_ms=round(done.handshake_ms, 1),
        round_trip_ms=round(done.round_trip_ms, 1),
        http_status=done.http_status,
        gateway_cert_days_left=done.gateway_cert_days,
        gateway_cert_trusted=True,  # the handshake verified it against ca.crt alone
    )
    notes = [
        Note(
            N_("the gateway's certificate is signed by the pinned CA ({days} days left)"),
            {"days": done.gateway_cert_days},
        ),
        expiry_note,
    ]
    if done.http_status != 200:
        answer = Note(N_("{path} answered HTTP {status}"), {"path": HEALTH_PATH, "status": done.http_status})
        return _fail(answer, figures, *notes)
    detail = Note(
        N_("{host}:{port} reached over {tls}, {ms} ms round trip"),
        {**where, "tls": done.tls_version, "ms": done.round_trip_ms},
    )
    if agent_days < WARN_DAYS:
        notes.insert(0, Note(N_("the agent certificate expires in under {days} days: renew it"), {"days": WARN_DAYS}))
        return CheckResult("gateway", Status.WARN, detail, figures, tuple(notes))
    return CheckResult("gateway", Status.PASS, detail, figures, tuple(notes))
