"""Login (ID + password + one-time code), first-login code enrolment, password change, logout."""

from __future__ import annotations

from aiohttp import web

from .. import audit
from ..alerts import hooks as alert_hooks
from ..auth import second_factor, self_service, totp, websessions
from ..auth.accounts import LoginResult
from ..auth.passwords import verify_off_loop
from ..db.models import utcnow
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
    # Honest, and no hint about the account: every directory login gets it while no server answers.
    LoginResult.DIRECTORY_UNAVAILABLE: (
        503,
        "Cannot connect to the authentication server. Please wait a moment and try again;"
        " if it continues, please contact the helpdesk.",
    ),
}


_NEXT_PAGES = {
    LoginResult.ENROLL_TOTP: "/login/totp",
    LoginResult.KEY: "/login/key",
    LoginResult.ENROLL_KEY: "/login/key/setup",
}


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    # A control character cannot be typed into these fields; such a value matches no account.
    return value[:MAX_FIELD] if isinstance(value, str) and not has_controls(value) else ""


async def login_page(request: web.Request) -> web.StreamResponse:
    loaded = request.get(SESSION)
    if loaded is not None and loaded.row.stage == websessions.STAGE_FULL:
        raise web.HTTPSeeOther("/")
    return _login_form(request, 200, None, "")


def _login_form(request: web.Request, status: int, error: str | None, login_id: str) -> web.Response:
    token = prelogin_token(request)
    # The login form carries the pre-login token; the header's language form, shown when a login is
    # half done (the key or code-enrolment step), keeps the session's own token.
    response = render(request, "login.html", status=status, login_csrf=token, error=error, login_id=login_id)
    set_prelogin_cookie(response, token)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    terminal: TerminalIdentity = request[TERMINAL]
    form = await request.post()
    login_id, password, code = _field(form, "login_id").strip(), _field(form, "password"), _field(form, "code")
    attempt = await self_service.log_in(
        state.db,
        state.config.auth,
        state.login_throttle,
        state.box,
        login_id=login_id,
        password=password,
        code=code,
        terminal_id=terminal.id,
        old_cookie=request.cookies.get(websessions.COOKIE),
        address=request.remote,
        directory=state.config.directory,
    )
    outcome, cookie = attempt.outcome, attempt.cookie
    await alert_hooks.after_login(state, outcome, cookie is not None, terminal.id, request.remote)
    if cookie is not None:
        response = web.HTTPSeeOther(_NEXT_PAGES.get(outcome.result, "/"))
        set_session_cookie(response, cookie)
        raise response
    status, msgid = _LOGIN_MESSAGES[outcome.result]
    return _login_form(request, status, translator(request)(msgid), login_id)


async def totp_page(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request, websessions.STAGE_ENROLL_TOTP)
    async with state.db.begin() as s:
        secret = await self_service.totp_secret_to_enrol(s, state.box, loaded.user.id)
        key_instead = await second_factor.effective(s, loaded.user) != second_factor.TOTP
    uri = totp.provisioning_uri(secret, loaded.user.id)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        request, "totp.html", qr=totp.qr_svg_data_uri(uri), secret=grouped, error=None, key_instead=key_instead
    )


async def totp_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request, websessions.STAGE_ENROLL_TOTP)
    form = await request.post()
    now = utcnow()
    async with state.db.begin() as s:
        enrolment = await self_service.confirm_totp(
            s, state.box, state.config.auth, loaded, _field(form, "code"), request.remote, now
        )
    if enrolment.cookie is not None:
        response = web.HTTPSeeOther("/")
        set_session_cookie(response, enrolment.cookie)
        raise response
    secret = enrolment.secret
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
        key_instead=False,
    )


def _password_rules(request: web.Request) -> list[str]:
    """The policy's rules in the reader's language, shown before the user types."""
    _ = translator(request)
    rules = request.app[STATE].password_policy.rules()
    return [_(r.msgid, n=r.value) if r.value is not None else _(r.msgid) for r in rules]


def _directory_password(request: web.Request, loaded: websessions.LoadedSession) -> web.Response | None:
    """A directory account's password is the organisation's (changed in Windows), never set here."""
    if loaded.user.source != "directory":
        return None
    problem = translator(request)(
        "Your password is that of your organisation's directory account: change it on your Windows PC."
    )
    return render(request, "password.html", status=409, problems=[problem], rules=[], forced=False)


async def password_page(request: web.Request) -> web.StreamResponse:
    loaded = _password_session(request)
    refused = _directory_password(request, loaded)
    if refused is not None:
        return refused
    return render(
        request,
        "password.html",
        problems=[],
        rules=_password_rules(request),
        forced=loaded.row.stage != websessions.STAGE_FULL,
    )


def _password_session(request: web.Request) -> websessions.LoadedSession:
    loaded: websessions.LoadedSession | None = request.get(SESSION)  # aiohttp types get() by str keys only
    if loaded is None or loaded.row.stage not in (websessions.STAGE_FULL, websessions.STAGE_CHANGE_PASSWORD):
        return require_user(request)
    return loaded


async def password_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = _password_session(request)
    refused = _directory_password(request, loaded)
    if refused is not None:
        return refused
    form = await request.post()
    current, new, repeat = _field(form, "current"), _field(form, "new"), _field(form, "repeat")
    _ = translator(request)
    forced = loaded.row.stage != websessions.STAGE_FULL  # at first login "current" is the temporary password
    problems: list[str] = []
    if not await verify_off_loop(loaded.user.password_hash, current):
        problems.append(_("The temporary password is wrong.") if forced else _("The current password is wrong."))
    if new != repeat:
        problems.append(_("The two new passwords differ."))
    if new == current:
        problems.append(
            _("The new password must differ from the temporary one.")
            if forced
            else _("The new password must differ from the current one.")
        )
    problems += [
        _(p.msgid, n=p.value) if p.value is not None else _(p.msgid)
        for p in state.password_policy.problems(new, loaded.user.id)
    ]
    if problems:
        await audit.record(state.db, "password_change", "denied", actor=loaded.user.id, address=request.remote)
        return render(
            request, "password.html", status=400, problems=problems, rules=_password_rules(request), forced=forced
        )
    now = utcnow()
    async with state.db.begin() as s:
        cookie = await self_service.change_password(
            s, state.config.auth, loaded.user.id, loaded.row.terminal_id, new, request.remote, now
        )
    # Remote sessions opened with the old password end too, this terminal's included.
    await state.broker.close_user_sessions(loaded.user.id, EndReason.PASSWORD_CHANGED)
    response = web.HTTPSeeOther("/")
    set_session_cookie(response, cookie)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = request.get(SESSION)
    async with state.db.begin() as s:
        await self_service.log_out(
            s, request.cookies.get(websessions.COOKIE), loaded.user.id if loaded else None, request.remote
        )
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
        await self_service.log_out_everywhere(s, loaded.user.id, request.remote)
    await state.broker.close_user_sessions(loaded.user.id, EndReason.LOGGED_OUT)
    response = web.HTTPSeeOther("/login")
    clear_session_cookie(response)
    raise response
