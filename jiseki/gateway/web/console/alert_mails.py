"""「通知メール」: each console user sets their own mail address and ticks the kinds of alert they
want; a button sends a test mail to the address saved. Everyone with the console may use it (for
themselves only); an alert about a person or PC reaches them only within their scope (alerts/)."""

from __future__ import annotations

from aiohttp import web

from jiseki.config_mail import MAX_ADDRESS, valid_address

from ... import audit
from ...alerts import choices, kinds, mailer
from ...permissions import Action
from ..guards import STATE
from ..render import translator
from . import staff
from .common import Actor, FormError, done_redirect, form_of, page, render_console, text

PATH = "/admin/alerts"


async def _render(request: web.Request, actor: Actor, status: int = 200, error: str | None = None) -> web.Response:
    state = request.app[STATE]
    async with state.db() as s:
        mine = await choices.choices_of(s, actor.id)
    return render_console(
        request,
        "console/alert_mails.html",
        status=status,
        section="alerts",
        email=(mine.email if mine else None) or "",
        chosen=set(mine.kinds) if mine else set(),
        labels=kinds.LABELS,
        mail_enabled=state.config.mail.enabled,
        error=error,
    )


@page(Action.VIEW)
async def alerts_page(request: web.Request, actor: Actor) -> web.Response:
    return await _render(request, actor)


@page(Action.VIEW)
async def save(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    email = text(form, "email", MAX_ADDRESS)
    picked = form.getall("kind", [])
    if not all(isinstance(k, str) and k in kinds.LABELS for k in picked) or len(picked) > len(kinds.LABELS):
        raise FormError("kind")
    if email and not valid_address(email):
        _ = translator(request)
        return await _render(request, actor, 400, _("The mail address is not valid."))
    state = request.app[STATE]
    async with state.db.begin() as s:
        await choices.save_choices(s, actor.id, email or None, {str(k) for k in picked}, address=actor.address)
    raise done_redirect(PATH, "updated")


@page(Action.VIEW)
async def send_test(request: web.Request, actor: Actor) -> web.StreamResponse:
    state = request.app[STATE]
    _ = translator(request)
    async with state.db() as s:
        mine = await choices.choices_of(s, actor.id)
    if mine is None or not mine.email:
        return await _render(request, actor, 400, _("Save a mail address first."))
    subject, body = kinds.compose(kinds.TEST, {}, mine.language)
    try:
        await mailer.send(state.config.mail, mine.email, subject, body)
    except mailer.MailError as exc:
        await audit.record(state.db, "alert_mail", "error", subject=actor.id, alert=kinds.TEST, error=str(exc))
        return await _render(request, actor, 502, _("The test mail could not be sent: {error}", error=str(exc)))
    await audit.record(state.db, "alert_mail", "ok", actor=actor.id, subject=actor.id, alert=kinds.TEST)
    raise done_redirect(PATH, "test_mail_sent")


@page(Action.STAFF_EDIT)
async def set_account_email(request: web.Request, actor: Actor) -> web.StreamResponse:
    """An administrator sets a staff member's address (alerts about their own account), in scope only."""
    login_id = await staff._target(request, actor, Action.STAFF_EDIT)  # not in scope: 404
    email = text(await form_of(request), "email", MAX_ADDRESS)
    if email and not valid_address(email):
        _ = translator(request)
        return await staff._render_account(
            request, actor, login_id, status=400, error=_("The mail address is not valid.")
        )
    async with request.app[STATE].db.begin() as s:
        await choices.set_email(s, login_id, email or None, actor.id, address=actor.address)
    raise done_redirect(staff.account_url(login_id), "updated")


def routes() -> list[web.RouteDef]:
    return [
        web.get(PATH, alerts_page),
        web.post(PATH, save),
        web.post(PATH + "/test", send_test),
        web.post("/admin/account/{login_id}/email", set_account_email),
    ]
