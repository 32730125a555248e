"""What every console page shares: the permission check, form fields, paging, rendering."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from jiseki.i18n import N_

from ... import audit
from ...admin import AdminError
from ...auth import websessions
from ...permissions import Action, allowed, grantable_roles, has_console
from ...scope import WHOLE, Scope, scope_of
from ...textclean import has_controls, without_controls
from ..guards import STATE, require_user
from ..render import render, translator
from .labels import KINDS, ROLE_LABELS

PAGE_SIZE = 50
MAX_PAGE = 100_000

# Messages shown after a redirect (`?done=key`): fixed texts only, nothing from the request.
DONE = {
    "updated": N_("The changes were saved."),
    "unchanged": N_("Nothing was changed."),
    "unlocked": N_("The account was unlocked."),
    "totp_reset": N_("The one-time code was reset. The staff member sets up the authenticator app at the next login."),
    "key_removed": N_("The security key was removed."),
    "disabled": N_("The account was disabled and signed out everywhere."),
    "enabled": N_("The account was enabled."),
    "assigned": N_("The office PC was assigned."),
    "unassigned": N_("The assignment was removed."),
    "revoked": N_("The certificate was revoked. Connections using it are closed within seconds."),
    "token_cancelled": N_("The enrollment token was cancelled."),
    "ended": N_("The session was ended. The staff member sees your reason."),
    "already_ended": N_("The session had already ended."),
    "test_mail_sent": N_("A test mail was sent. Check that it arrived."),
    "woken": N_("The power-on signal was sent. The PC shows as online once it has started."),
}


@dataclass(frozen=True)
class Actor:
    """The console user behind a request."""

    id: str
    role: str
    address: str | None
    scope: Scope = WHOLE  # 所掌範囲: every query this actor runs is limited to it

    def can(self, action: Action) -> bool:
        return allowed(self.role, action, self.delegated)

    @property
    def delegated(self) -> bool:
        """A delegated (scoped) console user: organisation-wide settings are not theirs to change."""
        return not self.scope.everything


def require(request: web.Request, action: Action) -> Actor:
    """The logged-in console user, if their role allows `action`; a 403 page otherwise.

    Refusals of changes are recorded: a crafted request by a role without the right shows up in the
    audit log.
    """
    loaded: websessions.LoadedSession = require_user(request)
    user = loaded.user
    actor = Actor(user.id, user.role, request.remote)
    if has_console(user.role) and allowed(user.role, action):
        return actor
    raise Forbidden(action)


class Forbidden(Exception):
    def __init__(self, action: Action | str) -> None:
        super().__init__(str(action))
        self.action = str(action)


async def forbidden_response(request: web.Request, exc: Forbidden) -> web.Response:
    state = request.app[STATE]
    loaded = require_user(request)
    if request.method != "GET":
        await audit.record(
            state.db,
            "console_refused",
            "denied",
            actor=loaded.user.id,
            address=request.remote,
            path=request.path[:200],
            action=exc.action,
            role=loaded.user.role,
        )
    return render(request, "console/forbidden.html", status=403, console_access=has_console(loaded.user.role))


class OutOfScope(Exception):
    """A row outside the actor's scope (所掌範囲): answered exactly as a missing one (404 with the
    same text); a change is recorded as refused."""

    def __init__(self, action: Action | str, not_found: str) -> None:
        super().__init__(str(action))
        self.action = str(action)
        self.not_found = not_found


async def refused_out_of_scope(request: web.Request, actor: Actor, action: Action | str) -> None:
    """Audit a change refused because it names a row outside the actor's scope."""
    if request.method == "GET":
        return
    await audit.record(
        request.app[STATE].db,
        "console_refused",
        "denied",
        actor=actor.id,
        address=actor.address,
        path=request.path[:200],
        action=str(action),
        role=actor.role,
        reason="out_of_scope",
    )


class FormError(Exception):
    """A field the browser's own checks would have refused (so the request was crafted): 400."""


async def form_of(request: web.Request) -> MultiDictProxy[Any]:
    return await request.post()


def text(form: MultiDictProxy[Any], name: str, max_len: int, *, required: bool = False) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise FormError(name)
    value = value.strip()
    if len(value) > max_len or (required and not value) or has_controls(value, allow_breaks=True):
        raise FormError(name)
    return value


def choice(form: MultiDictProxy[Any], name: str, options: Sequence[str], default: str | None = None) -> str:
    value = form.get(name, default)
    if value not in options:
        raise FormError(name)
    return str(value)


def query_text(request: web.Request, name: str, max_len: int = 100) -> str:
    return without_controls(request.query.get(name, "")).strip()[:max_len]


def query_choice(request: web.Request, name: str, options: Sequence[str]) -> str:
    value = request.query.get(name, "")
    return value if value in options else ""


def page_number(request: web.Request) -> int:
    try:
        number = int(request.query.get("page", "1"))
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def page_url(request: web.Request, number: int) -> str:
    """This list's URL with its filters, at page `number`."""
    params = [(k, v) for k, v in request.query.items() if k not in ("page", "done", "lang")]
    params.append(("page", str(number)))
    return f"{request.path}?{urlencode(params)}"


def done_redirect(location: str, key: str) -> web.HTTPSeeOther:
    assert key in DONE
    sep = "&" if "?" in location else "?"
    return web.HTTPSeeOther(f"{location}{sep}done={key}")


def error_text(request: web.Request, exc: AdminError) -> str:
    return translator(request)(exc.msgid, **exc.values)


def render_console(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A console page: the navigation, the permission check for buttons, the message after a redirect."""
    loaded = require_user(request)
    role = loaded.user.role
    actor: Actor | None = request.get(ACTOR_KEY)
    delegated = actor is not None and actor.delegated
    done = DONE.get(request.query.get("done", ""))
    return render(
        request,
        template,
        status=status,
        role=role,
        can=lambda action: allowed(role, Action(action), delegated),
        grantable=grantable_roles(role, delegated),
        delegated=delegated,
        role_labels=ROLE_LABELS,
        event_kinds=KINDS,
        done=done,
        page_url=lambda number: page_url(request, number),
        policies_url=policies_url(request),
        **context,
    )


def policies_url(request: web.Request) -> str | None:
    """The groups-and-policies page (another issue) appears in the menu once its route exists."""
    for resource in request.app.router.resources():
        if resource.canonical == "/admin/policies":
            return "/admin/policies"
    return None


ACTOR_KEY = web.RequestKey("console_actor", Actor)  # the request's Actor, for render_console
Handler = Callable[[web.Request, Actor], Awaitable[web.StreamResponse]]


def page(action: Action) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A console handler that needs `action`; gets the Actor; refusals and bad forms become pages."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                actor = require(request, action)
                async with request.app[STATE].db.begin() as s:
                    actor = replace(actor, scope=await scope_of(s, actor.id))
                if not actor.can(action):  # organisation-wide: not for a delegated user
                    raise Forbidden(action)
                request[ACTOR_KEY] = actor
                return await handler(request, actor)
            except Forbidden as exc:
                return await forbidden_response(request, exc)
            except OutOfScope as exc:
                await refused_out_of_scope(request, actor, exc.action)
                raise web.HTTPNotFound(text=exc.not_found) from None
            except FormError:
                _ = translator(request)
                return render(
                    request,
                    "console/message.html",
                    status=400,
                    title=_("The request was not understood."),
                    message=_("A field was missing or too long. Please go back and try again."),
                )

        return run

    return wrap
