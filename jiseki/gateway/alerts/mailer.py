"""Send one mail over SMTP (smtplib in a worker thread: a slow server never holds the event loop).

STARTTLS or implicit TLS always verify the server's certificate and host name (`ca_file` or the
system's CAs); `security = "none"` is allowed by the configuration only towards localhost. A
failure raises `MailError`; callers log and audit it and never let it stop a login.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from jiseki.config_mail import MailConfig

from ..db.models import utcnow

MAX_BODY = 64 * 1024


class MailError(Exception):
    pass


def _context(config: MailConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def build(config: MailConfig, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address("jiseki", addr_spec=config.from_address)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=config.from_address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body[:MAX_BODY], charset="utf-8")
    return message


def _send(config: MailConfig, message: EmailMessage) -> None:
    try:
        if config.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=_context(config)
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        with client:
            if config.security == "starttls":
                client.starttls(context=_context(config))
            if config.username:
                client.login(config.username, config.password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}"[:300]) from None


async def send(config: MailConfig, to: str, subject: str, body: str) -> None:
    """Send one plain-text mail; raises MailError (never blocks the event loop)."""
    if not config.enabled:
        raise MailError("mail is not enabled ([mail] enabled = false)")
    try:
        message = build(config, to, subject, body)
    except (ValueError, TypeError) as exc:  # an address or header the mail format refuses
        raise MailError(f"cannot build the mail: {exc}"[:300]) from None
    await asyncio.to_thread(_send, config, message)
