"""Check-then-write on security state under concurrent real HTTPS requests (issue 12, items 9-11):
one one-time code, one lockout threshold, one enrollment token. Runs on SQLite and, with
JISEKI_TEST_DB=postgresql, on PostgreSQL.

Each test holds every request at a gate until all of them have passed their first reads (the
password check, or the start of the enrollment transaction), then lets them go at once: the writes
really race instead of happening to run one after the other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from jiseki.agent.enroll import _make_csr
from jiseki.config import AuthConfig
from jiseki.gateway import enrollment
from jiseki.gateway.auth import accounts
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, Certificate, User, utcnow
from jiseki.gateway.web import enroll as enroll_web

from .conftest import Browser, RunningGateway, Staff, csrf_of, current_code

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

THRESHOLD = 5


@pytest.fixture
def auth_config() -> AuthConfig:
    return AuthConfig(lockout_threshold=THRESHOLD, lockout_seconds=600, address_max_failures=1000)


def gated(real: Callable[..., Awaitable[Any]], parties: int) -> Callable[..., Awaitable[Any]]:
    """`real`, but every call waits until `parties` calls have arrived (then all go on together)."""
    barrier = asyncio.Barrier(parties)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        await asyncio.wait_for(barrier.wait(), 30)
        return result

    return wrapper


def gated_before(real: Callable[..., Awaitable[Any]], parties: int) -> Callable[..., Awaitable[Any]]:
    barrier = asyncio.Barrier(parties)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        await asyncio.wait_for(barrier.wait(), 30)
        return await real(*args, **kwargs)

    return wrapper


async def _rows(gw: RunningGateway, query: Any) -> list[Any]:
    engine = make_engine(gw.db_url())
    try:
        async with sessionmaker(engine)() as s:
            return list((await s.execute(query)).scalars())
    finally:
        await engine.dispose()


async def _logins(gw: RunningGateway, login_id: str) -> list[dict[str, Any]]:
    rows = await _rows(gw, select(AuditEvent).where(AuditEvent.kind == "login", AuditEvent.actor == login_id))
    return [{"outcome": e.outcome, **json.loads(e.details or "{}")} for e in rows]


async def _parallel_logins(gw: RunningGateway, who: Staff, code: str, n: int) -> list[int]:
    """n browsers (own cookies, own CSRF token) post the same login at the same moment."""
    browsers = [Browser(gw, gw.terminal_ssl()) for _ in range(n)]
    try:
        forms = []
        for b in browsers:
            _status, page, _r = await b.get("/login")
            forms.append(
                {"csrf_token": csrf_of(page), "login_id": who.login_id, "password": who.password, "code": code}
            )
        answers = await asyncio.gather(*(b.post_form("/login", f) for b, f in zip(browsers, forms, strict=True)))
        return [status for status, _page, _r in answers]
    finally:
        for b in browsers:
            await b.http.close()


async def test_one_code_logs_in_once_among_parallel_logins(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 4
    monkeypatch.setattr(accounts, "check_password", gated(accounts.check_password, n))
    alice = gateway.staff["alice"]
    statuses = await _parallel_logins(gateway, alice, current_code(alice.totp_secret or ""), n)
    assert sorted(statuses) == [303] + [401] * (n - 1), statuses
    logins = await _logins(gateway, "alice")
    assert [e["outcome"] for e in logins].count("ok") == 1
    assert sorted(e.get("reason", "") for e in logins if e["outcome"] == "denied") == ["totp_replay"] * (n - 1)


async def test_parallel_wrong_passwords_lock_exactly_at_the_threshold(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 20
    monkeypatch.setattr(accounts, "check_password", gated(accounts.check_password, n))
    alice = gateway.staff["alice"]
    wrong = Staff("alice", "Wrong-Password-99", alice.totp_secret)
    statuses = await _parallel_logins(gateway, wrong, current_code(alice.totp_secret or ""), n)
    assert statuses == [401] * n  # one answer for all (item 19)
    reasons = sorted(e["reason"] for e in await _logins(gateway, "alice"))
    assert reasons.count("wrong_password") == THRESHOLD, reasons  # counted until the lock held
    assert reasons.count("locked") == n - THRESHOLD
    [user] = await _rows(gateway, select(User).where(User.id == "alice"))
    assert user.locked_until is not None and user.locked_until > utcnow()
    assert user.failed_logins == 0
    # Locked: even the right password and code do not log in, and the answer is the same.
    monkeypatch.undo()
    assert await _parallel_logins(gateway, alice, current_code(alice.totp_secret or ""), 1) == [401]


async def test_one_enrollment_token_issues_one_certificate(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 4
    engine = make_engine(gateway.db_url())
    try:
        async with sessionmaker(engine).begin() as s:
            token = await enrollment.create(
                s, gateway.ca.root_fingerprint, "pc-race", "PC race", dt.timedelta(hours=1), "admin", utcnow()
            )
    finally:
        await engine.dispose()
    monkeypatch.setattr(enroll_web, "consume", gated_before(enroll_web.consume, n))

    async def attempt(http: aiohttp.ClientSession) -> int:
        body = {"token": token, "csr": _make_csr(ec.generate_private_key(ec.SECP256R1())).decode()}
        async with http.post(gateway.url + "/enroll", json=body, ssl=gateway.plain_ssl()) as r:
            await r.read()
            return r.status

    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(*(attempt(http) for _ in range(n)))
    assert sorted(statuses) == [201] + [410] * (n - 1), statuses
    issued = await _rows(gateway, select(Certificate).where(Certificate.owner_id == "pc-race"))
    assert len(issued) == 1
