"""Security keys and passkeys: the key step of the login (/login/key), registering the first key at
first login (/login/key/setup) and the portal's page of one's keys (/keys).

The browser side is app/webauthn.js: it asks for options (a JSON POST, the session's CSRF token in
the header), calls navigator.credentials, and posts the answer as JSON. Errors come back as JSON
with a message from the catalogue."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from jiseki.i18n import N_

from ..auth import key_service, second_factor, websessions
from ..auth.accounts import LoginResult
from ..auth.webauthn_keys import (
    MAX_BODY,
    UNREADABLE,
    KeyInputError,
    authentication_options,
    key_name,
    keys_of,
    parse_assertion,
    parse_registration,
    read_json,
    relying_party,
    rename,
)
from ..db.models import utcnow
from ..textclean import has_controls
from .guards import SESSION, STATE, require_user, set_session_cookie
from .render import render, translator

EXPIRED_LOGIN = N_("Your login has expired. Please log in again.")


def _json(request: web.Request, status: int, msgid: str = "", **values: Any) -> web.Response:
    if msgid:
        values["error"] = translator(request)(msgid)
    return web.json_response(values, status=status)


async def _posted(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise KeyInputError(UNREADABLE, "too large")
    return read_json(await request.read())  # the application's 64 KB limit holds; read_json allows 32 KB


def _options_response(options: str) -> web.Response:
    return web.Response(text=options, content_type="application/json")


# ---- the login's key step --------------------------------------------------------------------


async def key_page(request: web.Request) -> web.StreamResponse:
    require_user(request, websessions.STAGE_KEY)
    return render(request, "key_login.html")


async def key_options(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request, websessions.STAGE_KEY)
    async with state.db.begin() as s:
        options = await authentication_options(
            s, relying_party(state.config.gateway), loaded.user.id, loaded.row.id, utcnow()
        )
    return _options_response(options)


async def key_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded: websessions.LoadedSession | None = request.get(SESSION)
    if loaded is None or loaded.row.stage != websessions.STAGE_KEY:
        return _json(request, 409, EXPIRED_LOGIN, next="/login")
    try:
        answer = parse_assertion((await _posted(request)).get("credential"))
    except KeyInputError as exc:
        return _json(request, 400, exc.msgid)
    done = await key_service.log_in_with_key(
        state.db,
        state.config.auth,
        state.login_throttle,
        relying_party(state.config.gateway),
        loaded,
        answer,
        request.remote,
        utcnow(),
    )
    if done.cookie is None:
        locked = done.result is not LoginResult.BAD_CREDENTIALS
        return _json(request, 401, done.message, next="/login" if locked else None)
    response = _json(request, 200, next="/")
    set_session_cookie(response, done.cookie)
    return response


# ---- the first key, at first login -----------------------------------------------------------


async def _setup_session(request: web.Request) -> websessions.LoadedSession:
    """The key-enrolment stage, or the code-enrolment stage where the policy lets a key do instead."""
    loaded: websessions.LoadedSession | None = request.get(SESSION)
    if loaded is not None and loaded.row.stage == websessions.STAGE_ENROLL_TOTP:
        async with request.app[STATE].db() as s:
            if await second_factor.effective(s, loaded.user) != second_factor.TOTP:
                return loaded
    return require_user(request, websessions.STAGE_ENROLL_KEY)


async def setup_page(request: web.Request) -> web.StreamResponse:
    loaded = await _setup_session(request)
    return render(request, "key_setup.html", either=loaded.row.stage == websessions.STAGE_ENROLL_TOTP)


async def setup_options(request: web.Request) -> web.StreamResponse:
    loaded = await _setup_session(request)
    return await _registration_options(request, loaded)


async def _registration_options(request: web.Request, loaded: websessions.LoadedSession) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        async with state.db.begin() as s:
            options = await key_service.registration_options_for(
                s, relying_party(state.config.gateway), loaded, utcnow()
            )
    except KeyInputError as exc:
        return _json(request, 400, exc.msgid)
    return _options_response(options)


async def setup_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = await _setup_session(request)
    try:
        posted = await _posted(request)
        name, answer = key_name(posted.get("name")), parse_registration(posted.get("credential"))
        async with state.db.begin() as s:
            cookie = await key_service.enrol_key_at_login(
                s,
                state.config.auth,
                relying_party(state.config.gateway),
                loaded,
                answer,
                name,
                request.remote,
                utcnow(),
            )
    except KeyInputError as exc:
        return _json(request, 400, exc.msgid)
    response = _json(request, 200, next="/")
    set_session_cookie(response, cookie)
    return response


# ---- the portal's page -----------------------------------------------------------------------


async def keys_page(request: web.Request) -> web.StreamResponse:
    return await _render_keys(request)


async def _render_keys(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    state = request.app[STATE]
    loaded = require_user(request)
    async with state.db() as s:
        keys = await keys_of(s, loaded.user.id)
        factor = await second_factor.effective(s, loaded.user)
    done = request.query.get("done", "")
    return render(
        request,
        "keys.html",
        status=status,
        keys=keys,
        factor=factor,
        factor_label=second_factor.LABELS[factor],
        error=error,
        done=done if done in ("added", "renamed", "removed") else "",
    )


async def keys_options(request: web.Request) -> web.StreamResponse:
    return await _registration_options(request, require_user(request))


async def keys_add(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request)
    try:
        posted = await _posted(request)
        name, answer = key_name(posted.get("name")), parse_registration(posted.get("credential"))
        async with state.db.begin() as s:
            await key_service.add_key(
                s, relying_party(state.config.gateway), loaded, answer, name, request.remote, utcnow()
            )
    except KeyInputError as exc:
        return _json(request, 400, exc.msgid)
    return _json(request, 200, next="/keys?done=added")


def _key_id(request: web.Request) -> int:
    raw = request.match_info["key_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


async def keys_rename(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request)
    key_id = _key_id(request)
    form = await request.post()
    raw = form.get("name")
    try:
        name = key_name(raw if isinstance(raw, str) and not has_controls(raw) else "")
    except KeyInputError as exc:
        return await _render_keys(request, 400, translator(request)(exc.msgid))
    async with state.db.begin() as s:
        if not await rename(s, loaded.user.id, key_id, name):
            raise web.HTTPNotFound()
    raise web.HTTPSeeOther("/keys?done=renamed")


async def keys_remove(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    loaded = require_user(request)
    key_id = _key_id(request)
    try:
        async with state.db.begin() as s:
            await key_service.remove_own_key(s, loaded.user, key_id, request.remote)
    except LookupError:
        raise web.HTTPNotFound() from None
    except KeyInputError as exc:
        return await _render_keys(request, 409, translator(request)(exc.msgid))
    raise web.HTTPSeeOther("/keys?done=removed")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/login/key", key_page),
        web.post("/login/key/options", key_options),
        web.post("/login/key", key_submit),
        web.get("/login/key/setup", setup_page),
        web.post("/login/key/setup/options", setup_options),
        web.post("/login/key/setup", setup_submit),
        web.get("/keys", keys_page),
        web.post("/keys/options", keys_options),
        web.post("/keys", keys_add),
        web.post("/keys/{key_id}/rename", keys_rename),
        web.post("/keys/{key_id}/remove", keys_remove),
    ]
