"""Recording playback for administrators and auditors (each viewing is audited)."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from .. import audit
from ..db.models import Recording, Session
from ..queries.recordings import playable
from ..scope import scope_of
from .guards import STATE, require_user
from .render import render, translator

PLAYBACK_ROLES = ("admin", "auditor")


async def _recording(request: web.Request) -> tuple[Recording, Session]:
    loaded = require_user(request)
    if loaded.user.role not in PLAYBACK_ROLES:
        raise web.HTTPForbidden(text=translator(request)("Access denied"))
    state = request.app[STATE]
    session_id = request.match_info["session_id"]
    async with state.db() as s:
        # A delegated auditor or administrator plays only the sessions of their scope; others are "not found".
        found = await playable(s, session_id, await scope_of(s, loaded.user.id))
    if found is None:
        raise web.HTTPNotFound(text=translator(request)("This recording does not exist (any more)."))
    return found


async def player_page(request: web.Request) -> web.Response:
    row, session = await _recording(request)
    loaded = require_user(request)
    await audit.record(
        request.app[STATE].db,
        "recording_viewed",
        "ok",
        actor=loaded.user.id,
        subject=row.session_id,
        address=request.remote,
    )
    _ = translator(request)
    strings = {"play": _("Play"), "pause": _("Pause"), "error": _("The recording cannot be played.")}
    return render(
        request,
        "player.html",
        recording=row,
        session=session,
        strings_json=json.dumps(strings, ensure_ascii=False).replace("<", "\\u003c"),
    )


async def recording_data(request: web.Request) -> web.StreamResponse:
    row, _session = await _recording(request)
    # FileResponse answers 404 itself when the file is gone.
    return web.FileResponse(Path(row.path), headers={"Content-Type": "application/octet-stream"})
