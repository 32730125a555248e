"""Console accounts (administrator, helpdesk, auditor) for the integration tests, added to the
database of a running test gateway, and small helpers for console pages."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.gateway.admin import create_user
from jiseki.gateway.auth import totp
from jiseki.gateway.auth.passwords import PasswordPolicy
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, User

from .conftest import PASSWORD, Browser, RunningGateway, Staff

CONSOLE_USERS = (("root", "admin"), ("hd", "helpdesk"), ("aud", "auditor"))


@asynccontextmanager
async def database(gw: RunningGateway) -> AsyncIterator[AsyncSession]:
    engine = make_engine(gw.db_url())
    try:
        async with sessionmaker(engine).begin() as s:
            yield s
    finally:
        await engine.dispose()


async def add_console_users(gw: RunningGateway) -> None:
    for login_id, role in CONSOLE_USERS:
        await add_console_user(gw, login_id, role)


async def add_console_user(gw: RunningGateway, login_id: str, role: str, department: str = "情報政策課") -> None:
    """An account of `role` with its authenticator set up, ready for `logged_in`."""
    box = totp.SecretBox(gw.config.gateway.data_dir / "secrets" / "totp.key")
    async with database(gw) as s:
        await create_user(s, PasswordPolicy(), login_id, f"{role} {login_id}", department, role, PASSWORD, "test")
        secret = totp.new_secret()
        user = await s.get(User, login_id)
        assert user is not None
        user.totp_secret, user.totp_enabled = box.seal(secret), True
        gw.staff[login_id] = Staff(login_id, PASSWORD, secret)


async def events(gw: RunningGateway, kind: str) -> list[AuditEvent]:
    async with database(gw) as s:
        return list(
            (await s.execute(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id))).scalars()
        )


_TAGS = re.compile(r"<[^>]+>")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", _TAGS.sub(" ", html))


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def console_csrf(b: Browser, path: str = "/admin") -> str:
    status, page, _r = await b.get(path)
    assert status == 200, page[:500]
    match = _CSRF.search(page)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def post(b: Browser, path: str, fields: dict[str, str], token: str | None = None) -> tuple[int, str, str]:
    """(status, body, Location) of a console form POST with the page's CSRF token."""
    data = {"csrf_token": token if token is not None else await console_csrf(b), **fields}
    status, body, response = await b.post_form(path, data)
    return status, body, response.headers.get("Location", "")


async def post_file(
    b: Browser, path: str, content: bytes, fields: dict[str, str] | None = None, name: str = "file"
) -> tuple[int, str]:
    form = aiohttp.FormData()
    form.add_field("csrf_token", await console_csrf(b))
    for key, value in (fields or {}).items():
        form.add_field(key, value)
    form.add_field(name, content, filename="upload.csv", content_type="text/csv")
    async with b.http.post(
        b.gw.url + path, data=form, ssl=b.ssl, allow_redirects=False, headers={"Origin": b.gw.url}
    ) as r:
        return r.status, await r.text()


async def logged_in(gw: RunningGateway, login_id: str) -> Browser:
    b = Browser(gw, gw.terminal_ssl())
    status, _body, _r = await b.login(gw.staff[login_id])
    assert status == 303
    return b


# ---- CSV imports: the preview's confirmation form, its counts, the job it starts ----

_STAGED = re.compile(r'action="/admin/(staff|assignments|pcs)/import/([0-9a-f]{32})"')


def staged_path(page: str) -> str:
    match = _STAGED.search(page)
    assert match, "no confirmation form in the preview"
    return f"/admin/{match.group(1)}/import/{match.group(2)}"


def count_of(page: str, action: str) -> str:
    match = re.search(rf'data-action="{action}">([^<]*)<', page)
    assert match, f"no count for {action}"
    return match.group(1)


async def confirm(b: Browser, path: str) -> str:
    """Confirm a preview: the job's id (the answer is a redirect to its page)."""
    status, page, location = await post(b, path, {})
    assert status == 303, page[:500]
    match = re.fullmatch(r"/admin/jobs/([0-9a-f]{32})", location)
    assert match, location
    return match.group(1)


async def finished(b: Browser, job_id: str, seconds: float = 120.0) -> dict[str, object]:
    """Poll the progress JSON, as job.js does, until the job has ended."""
    deadline = time.monotonic() + seconds
    while True:
        status, body, _r = await b.get(f"/admin/jobs/{job_id}/progress")
        assert status == 200, body[:300]
        progress: dict[str, object] = json.loads(body)
        if progress["state"] in ("done", "failed"):
            return progress
        assert time.monotonic() < deadline, progress
        await asyncio.sleep(0.1)
