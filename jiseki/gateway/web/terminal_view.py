"""The viewer's choices on one terminal: its zoom, and which office PC layout it was told about.

The viewer stores nothing in the browser; these belong to the registered terminal (its
certificate), not to a browser profile or a person: a laptop with a small screen keeps 100 %
whoever logs in, on every gateway node. They are written by a small JSON API and given to the
viewer page with the page itself (no fit-then-zoom flash).
"""

from __future__ import annotations

from aiohttp import web

from .. import terminals
from .guards import SESSION, STATE, TERMINAL
from .render import translator
from .security import same_origin

ZOOMS = ("fit", "50", "75", "100", "125", "150", "200")
MAX_LAYOUT_NAME = 64  # as KEYBOARD_LAYOUT carries it


def _error(status: int, reason: str, request: web.Request, msgid: str) -> web.Response:
    return web.json_response({"error": reason, "message": translator(request)(msgid)}, status=status)


def _layout_name(value: object) -> str | None:
    """A layout name as the agent reports it (printable ASCII, at most 64), or None if it is not one."""
    if isinstance(value, str) and len(value) <= MAX_LAYOUT_NAME and all(0x20 <= ord(c) < 0x7F for c in value):
        return value
    return None


async def set_terminal_view(request: web.Request) -> web.Response:
    """POST {"zoom": "100"} and/or {"layout_told": "jp106/jp"} for the terminal making the request."""
    loaded = request.get(SESSION)
    if loaded is None or loaded.row.stage != "full":
        return _error(401, "login_required", request, "Please log in again.")
    if not same_origin(request):
        return _error(403, "cross_origin", request, "Access denied")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not body or set(body) - {"zoom", "layout_told"}:
        return _error(400, "bad_request", request, "The request was not understood.")
    values: dict[str, str | None] = {}
    if "zoom" in body:
        if body["zoom"] not in ZOOMS:
            return _error(400, "bad_request", request, "The request was not understood.")
        values["view_zoom"] = body["zoom"]
    if "layout_told" in body:
        name = _layout_name(body["layout_told"])
        if name is None:
            return _error(400, "bad_request", request, "The request was not understood.")
        values["layout_told"] = name or None
    async with request.app[STATE].db.begin() as s:
        await terminals.save_view(s, request[TERMINAL].id, values)
    return web.json_response({"ok": True})
