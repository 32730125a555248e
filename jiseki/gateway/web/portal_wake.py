"""The staff portal's 電源オン: power on one's own offline office PC (if every policy allows `wake`),
then watch it come online (`GET /pcs/{host_id}/wake`, polled by `app/wake.js`)."""

from __future__ import annotations

from aiohttp import web

from jiseki.i18n import N_

from .. import hosts
from ..policies_db import effective_for
from ..wake import is_online, wake_host
from .guards import SESSION, STATE
from .render import translator
from .security import same_origin

NOT_ALLOWED = N_("Powering on is not allowed for this PC.")


def _error(request: web.Request, status: int, reason: str, msgid: str) -> web.Response:
    return web.json_response({"ok": False, "reason": reason, "message": translator(request)(msgid)}, status=status)


async def _mine(request: web.Request) -> tuple[str, str] | web.Response:
    """(user id, host id) of a signed-in staff member's own PC; else the JSON error to answer."""
    loaded = request.get(SESSION)
    if loaded is None or loaded.row.stage != "full":
        return _error(request, 401, "login_required", N_("Please log in again."))
    async with request.app[STATE].db() as s:
        host = await hosts.assigned_host(s, loaded.user.id, request.match_info["host_id"])
    if host is None:  # unknown and not assigned look the same
        return _error(request, 404, "unknown_host", N_("This office PC is not registered."))
    return loaded.user.id, host.id


async def request_wake(request: web.Request) -> web.Response:
    if not same_origin(request):
        return _error(request, 403, "cross_origin", N_("Access denied"))
    mine = await _mine(request)
    if isinstance(mine, web.Response):
        return mine
    user_id, host_id = mine
    state = request.app[STATE]
    async with state.db() as s:
        allowed = (await effective_for(s, user_id, host_id)).wake
    if not allowed:
        return _error(request, 403, "not_allowed", NOT_ALLOWED)
    result = await wake_host(state, host_id, user_id, request.remote)
    body = {"ok": result.ok, "message": translator(request)(result.message), "route": result.route}
    return web.json_response(body, status=202 if result.ok else 409)


async def wake_progress(request: web.Request) -> web.Response:
    mine = await _mine(request)
    if isinstance(mine, web.Response):
        return mine
    async with request.app[STATE].db() as s:
        online = await is_online(s, mine[1])
    return web.json_response({"online": online}, headers={"Cache-Control": "no-store"})
