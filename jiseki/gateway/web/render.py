"""Render Jinja2 templates with the catalogue, the language and the page's CSRF token."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any, Protocol

import jinja2
from aiohttp import web

from jiseki.i18n import DEFAULT_LANGUAGE, format_bytes, format_jst, format_jst_date, format_number, gettext

from ..permissions import has_console
from . import assets
from .keys import SESSION
from .security import request_language


@jinja2.pass_context
def _jst(context: jinja2.runtime.Context, value: dt.datetime | None, empty: str = "—") -> str:
    """`|jst` in templates: the date and time in the page's language (`lang` of the render)."""
    return format_jst(value, empty, context.get("lang", DEFAULT_LANGUAGE))


@jinja2.pass_context
def _jst_date(context: jinja2.runtime.Context, value: dt.datetime | dt.date | None, empty: str = "—") -> str:
    """`|jst_date`: the day only, `2026/12/05（土）`."""
    return format_jst_date(value, empty, context.get("lang", DEFAULT_LANGUAGE))


@jinja2.pass_context
def _bytes(context: jinja2.runtime.Context, value: int | None) -> str:
    """`|bytes`: `65,536バイト（64KB）`."""
    return format_bytes(value, context.get("lang", DEFAULT_LANGUAGE))


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jiseki.web", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["jst"] = _jst
    env.filters["jst_date"] = _jst_date
    env.filters["bytes"] = _bytes
    env.filters["num"] = format_number
    env.globals["static"] = assets.url
    env.globals["modules"] = assets.module_graph
    return env


class Translate(Protocol):
    """`_` in handlers and templates: the catalogue's text for `msgid`, with `values` filled in."""

    def __call__(self, msgid: str, /, **values: Any) -> str: ...


def translator(request: web.Request) -> Translate:
    lang = request_language(request)

    def _(msgid: str, /, **values: Any) -> str:
        text = gettext(lang, msgid)
        return text.format(**values) if values else text

    return _


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    loaded = request.get(SESSION)
    context.setdefault("csrf_token", loaded.row.csrf_token if loaded is not None else "")
    context.setdefault("user", loaded.user if loaded is not None and loaded.row.stage == "full" else None)
    user = context["user"]
    context.setdefault("console_access", user is not None and has_console(user.role))
    context.setdefault("logged_in", loaded is not None)
    # This page's address without `lang`, for the language form to return to.
    query = [(k, v) for k, v in request.query.items() if k not in ("lang", "done", "fragment")]
    context.setdefault("here", str(request.rel_url.with_query(query)) if query else request.path)
    html = (
        _env()
        .get_template(template)
        .render(lang=request_language(request), _=translator(request), path=request.path, **context)
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
