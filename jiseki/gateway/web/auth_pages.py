"""Login (ID + password + one-time code), first-login code enrolment, password change, logout."""

from __future__ import annotations

from aiohttp import web

from .. import audit
from ..audit import pseudonym
from ..auth import accounts, totp, websessions
from ..auth.accounts import LoginResult
from ..auth.passwords import hash_off_loop, verify_off_loop
from ..db.models import User, utcnow
from ..end_reasons import EndReason
from ..textclean import has_controls
from .guards import (
    SESSION,
    STATE,
    TERMINAL,
    TerminalIdentity,
    clear_session_cookie,
    prelogin_token,
    require_user,
    set_prelogin_cookie,
    set_session_cookie,
)
from .render import render, translator

MAX_FIELD = 256

_BAD_CREDENTIALS = (
    401,
    "The login ID, password or one-time code is wrong. If it keeps failing, please contact the helpdesk.",
)
# A locked or disabled account gets the very answer of a wrong password (and argon2 has run for it
# too): a distinct one would tell which IDs exist and, for a disabled account, that the password
# typed was right. The audit trail keeps the real reason; the console shows it to the helpdesk.
_LOGIN_MESSAGES = {
    LoginResult.BAD_CREDENTIALS: _BAD_CREDENTIALS,
    LoginResult.LOCKED: _BAD_CREDENTIALS,
    LoginResult.DISABLED: _BAD_CREDENTIALS,
    LoginResult.ADDRESS_BLOCKED: (429, "Too many failed attempts from this network. Please wait and try again."),
}


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None  # type: ignore[union-attr]
    # A control character cannot be typed into these fields; such a value matches no account.
    return value[:MAX_FIELD] if isinstance(value, str) and not has_controls(value) else ""


async def login_page(request: web.Request) -> web.StreamResponse:
    loaded = request.get(SESSION)
    if loaded is not None and loaded.row.stage == websessions.STAGE_FULL:
        raise web.HTTPSeeOther("/")
    return _login_form(request, 200, None, "")


def _login_form(request: web.Request, status: int, error: str | None, login_id: str) -> web.Response:
    token = prelogin_token(request)
    response = render(request, "login.html", status=status, csrf_token=token, error=error, login_id=login_id)
    set_prelogin_cookie(response, token)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    terminal: TerminalIdentity = request[TERMINAL]
    form = await request.post()
    login_id, password, code = _field(form, "login_id").strip(), _field(form, "password"), _field(form, "code")
    if state.login_throttle.blocked(request.remote or ""):
        checked = accounts.PasswordCheck(None, False)  # refused below without spending argon2 on it
    else:
        checked = await accounts.check_password(state.db, login_id, password)
    now = utcnow()
    async with state.db.begin() as s:
        outcome = await accounts.authenticate(
            s,
            state.config.auth,
            state.login_throttle,
            state.box,
            login_id,
            password,
            checked,
            code,
            request.remote or "",
            now,
        )
        cookie = None
        if outcome.result in (LoginResult.OK, LoginResult.ENROLL_TOTP) and outcome.user is not None:
            stage = websessions.STAGE_ENROLL_TOTP
            if outcome.result is LoginResult.OK:
                stage = (
                    websessions.STAGE_CHANGE_PASSWORD if outcome.user.must_change_password else websessions.STAGE_FULL
                )
            await websessions.end(s, request.cookies.get(websessions.COOKIE))  # rotation: never reuse an id
            cookie = await websessions.create(
                s, state.config.auth, outcome.user.id, terminal.id, stage, request.remote, now
            )
        s.add(
            audit.event(
                "login",
                "ok" if cookie else "denied",
                actor=_audit_actor(state.box, outcome.user, login_id),
                subject=terminal.id,
                address=request.remote,
                result=outcome.result.value,
                reason=outcome.reason,
            )
        )
    if cookie is not None:
        response = web.HTTPSeeOther("/login/totp" if outcome.result is LoginResult.ENROLL_TOTP else "/")
        set_session_cookie(response, cookie)
        raise response
    status, msgid = _LOGIN_MESSAGES[outcome.result]
    return _login_form(request, status, translator(request)(msgid), login_id)


def _audit_actor(box: totp.SecretBox, user: User | None, login_id: str) -> str | None:
    """A known account's ID as it is; anything else typed may be a password: a keyed hash."""
    if user is not None:
        return user.id
    return pseudonym.unknown_login_id(box.derive_key(pseudonym.KEY_LABEL), login_id) if login_id else None


async def totp_page(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request, websessions.STAGE_ENROLL_TOTP)
    async with state.db.begin() as s:
        user = await s.get(User, loaded.user.id)
        assert user is not None
        if not user.totp_secret:
            user.totp_secret = state.box.seal(totp.new_secret())  # enabled only once a code confirms it
        secret = state.box.open(user.totp_secret)
    uri = totp.provisioning_uri(secret, user.id)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(request, "totp.html", qr=totp.qr_svg_data_uri(uri), secret=grouped, error=None)


async def totp_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request, websessions.STAGE_ENROLL_TOTP)
    form = await request.post()
    now = utcnow()
    async with state.db.begin() as s:
        user = await s.get(User, loaded.user.id)
        assert user is not None and user.totp_secret
        secret = state.box.open(user.totp_secret)
        ok = accounts.confirm_totp(user, state.box, secret, _field(form, "code"), now)
        s.add(audit.event("totp_enrolled", "ok" if ok else "denied", actor=user.id, address=request.remote))
        if ok:
            session_row = await s.merge(loaded.row)
            next_stage = websessions.STAGE_CHANGE_PASSWORD if user.must_change_password else websessions.STAGE_FULL
            cookie = await websessions.rotate(
                s, websessions.LoadedSession(session_row, user), state.config.auth, next_stage, now
            )
    if ok:
        response = web.HTTPSeeOther("/")
        set_session_cookie(response, cookie)
        raise response
    uri = totp.provisioning_uri(secret, loaded.user.id)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    _ = translator(request)
    return render(
        request,
        "totp.html",
        status=400,
        qr=totp.qr_svg_data_uri(uri),
        secret=grouped,
        error=_("The code is not right. Check the time on your phone and enter the current code."),
    )


def _password_rules(request: web.Request) -> list[str]:
    """The policy's rules in the reader's language, shown before the user types."""
    _ = translator(request)
    rules = request.app[STATE].password_policy.rules()
    return [_(r.msgid, n=r.value) if r.value is not None else _(r.msgid) for r in rules]


async def password_page(request: web.Request) -> web.StreamResponse:
    loaded = _password_session(request)
    return render(
        request,
        "password.html",
        problems=[],
        rules=_password_rules(request),
        forced=loaded.row.stage != websessions.STAGE_FULL,
    )


def _password_session(request: web.Request) -> websessions.LoadedSession:
    loaded = request.get(SESSION)
    if loaded is None or loaded.row.stage not in (websessions.STAGE_FULL, websessions.STAGE_CHANGE_PASSWORD):
        return require_user(request)
    return loaded


async def password_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = _password_session(request)
    form = await request.post()
    current, new, repeat = _field(form, "current"), _field(form, "new"), _field(form, "repeat")
    _ = translator(request)
    problems: list[str] = []
    if not await verify_off_loop(loaded.user.password_hash, current):
        problems.append(_("The current password is wrong."))
    if new != repeat:
        problems.append(_("The two new passwords differ."))
    if new == current:
        problems.append(_("The new password must differ from the current one."))
    problems += [
        _(p.msgid, n=p.value) if p.value is not None else _(p.msgid)
        for p in state.password_policy.problems(new, loaded.user.id)
    ]
    forced = loaded.row.stage != websessions.STAGE_FULL
    if problems:
        await audit.record(state.db, "password_change", "denied", actor=loaded.user.id, address=request.remote)
        return render(
            request, "password.html", status=400, problems=problems, rules=_password_rules(request), forced=forced
        )
    now = utcnow()
    async with state.db.begin() as s:
        user = await s.get(User, loaded.user.id)
        assert user is not None
        user.password_hash = await hash_off_loop(new)
        user.password_changed_at = now
        user.must_change_password = False
        # Other browsers signed in with the old password are signed out; this one gets a new session.
        await websessions.end_all_for_user(s, user.id)
        cookie = await websessions.create(
            s, state.config.auth, user.id, loaded.row.terminal_id, websessions.STAGE_FULL, request.remote, now
        )
        s.add(audit.event("password_change", "ok", actor=user.id, address=request.remote))
    # Remote sessions opened with the old password end too, this terminal's included.
    await state.broker.close_user_sessions(loaded.user.id, EndReason.PASSWORD_CHANGED)
    response = web.HTTPSeeOther("/")
    set_session_cookie(response, cookie)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = request.get(SESSION)
    async with state.db.begin() as s:
        await websessions.end(s, request.cookies.get(websessions.COOKIE))
        if loaded is not None:
            s.add(audit.event("logout", "ok", actor=loaded.user.id, address=request.remote))
    if loaded is not None:  # logging out ends the remote sessions this terminal opened
        terminal: TerminalIdentity = request[TERMINAL]
        await state.broker.close_user_sessions(loaded.user.id, EndReason.LOGGED_OUT, terminal.id)
    response = web.HTTPSeeOther("/login")
    clear_session_cookie(response)
    raise response


async def logout_everywhere(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request)
    async with state.db.begin() as s:
        await websessions.end_all_for_user(s, loaded.user.id)
        s.add(audit.event("logout_everywhere", "ok", actor=loaded.user.id, address=request.remote))
    await state.broker.close_user_sessions(loaded.user.id, EndReason.LOGGED_OUT)
    response = web.HTTPSeeOther("/login")
    clear_session_cookie(response)
    raise response
