"""A real SMTP server on loopback for the alert tests (aiosmtpd): STARTTLS with a certificate from
a test CA, AUTH required after TLS; it keeps every message it receives."""

from __future__ import annotations

import email
import email.policy
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from jiseki.config_mail import MailConfig
from jiseki.gateway.pki import CertificateAuthority

from .conftest import free_port

USER, SECRET = "jiseki", "smtp-test-secret"


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        data = envelope.content  # type: ignore[attr-defined]
        message = email.message_from_bytes(data, policy=email.policy.default)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)  # type: ignore[attr-defined]
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["X-Envelope-To"] == address]

    def wait(self, count: int, seconds: float = 10.0) -> list[EmailMessage]:
        end = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < end:
            time.sleep(0.05)
        return list(self.messages)


def _authenticate(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), SECRET.encode())
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    inbox: Inbox
    config: MailConfig


def running_smtp(root: Path) -> Iterator[SmtpServer]:
    ca = CertificateAuthority(root / "smtp-pki")
    ca.ensure_server_cert(("localhost", "127.0.0.1"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca.server_cert_path, ca.server_key_path)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
        ready_timeout=10,
    )
    controller.start()
    config = MailConfig(
        enabled=True,
        host="localhost",
        port=port,
        security="starttls",
        username=USER,
        password=SECRET,
        from_address="jiseki@pref.example.lg.jp",
        ca_file=str(ca.root_cert_path),
        timeout_seconds=5,
        public_url="https://jiseki.pref.example.lg.jp",
    )
    try:
        yield SmtpServer(inbox, config)
    finally:
        controller.stop()
