"""The reader's language: a per-user preference in the database, a cookie before login."""

from __future__ import annotations

from aiohttp import web

from jiseki.i18n import LANGUAGES

from ..auth import self_service
from .guards import SESSION, STATE
from .redirects import local_path
from .security import LANG_COOKIE


async def set_language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    lang = form.get("lang")
    if lang not in LANGUAGES:
        raise web.HTTPBadRequest(text="unknown language")
    loaded = request.get(SESSION)
    if loaded is not None:
        async with request.app[STATE].db.begin() as s:
            await self_service.set_language(s, loaded.user.id, str(lang))
    response = web.HTTPSeeOther(local_path(form.get("next")))
    response.set_cookie(LANG_COOKIE, str(lang), secure=True, httponly=True, samesite="Strict", path="/")
    raise response
