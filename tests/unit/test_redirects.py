"""Redirect targets from a request never leave the site, however a browser normalises them (issue 12, item 18)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.gateway.web.redirects import local_path

PIECES = (
    "/", "//", "\\", "\t", "\r", "\n", " ", "\x00", "\x0b", "\x7f", "\x85", "\u3000", "\u200b", "\u2028",
    "%2F", "%2f", "%5C", "%09", "%0a", "%2e", ".", "..", "evil.example", "http:", "https:", "javascript:",
    "@", ":", "?", "#", "a", "admin", "佐藤",
)  # fmt: skip
URLISH = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


def whatwg_like(location: str) -> str:
    """What a browser makes of a Location value before resolving it: leading/trailing C0 and space
    trimmed, TAB/CR/LF removed anywhere, backslash read as slash (https is a special scheme)."""
    trimmed = location.strip("".join(chr(c) for c in range(0x21)))
    return trimmed.replace("\t", "").replace("\r", "").replace("\n", "").replace("\\", "/")


def assert_stays_on_site(target: str) -> None:
    sent = web.HTTPSeeOther(target).headers["Location"]  # what aiohttp (yarl) really puts in the header
    for value in (target, sent):
        seen = whatwg_like(value)
        parts = urlsplit(seen)
        assert seen.startswith("/") and not seen.startswith("//"), (target, sent)
        assert parts.scheme == "" and parts.netloc == "", (target, sent)


@settings(max_examples=1500)
@given(st.one_of(URLISH, st.text(max_size=40)))
def test_any_input_gives_a_target_without_a_host(value: str) -> None:
    assert_stays_on_site(local_path(value))


@pytest.mark.parametrize(
    "value",
    [
        "/\t/evil.example",
        "/\r\n/evil.example",
        "/\\evil.example",
        "/ /evil.example",
        "\t//evil.example",
        " /x",
        "//evil.example",
        "https://evil.example/",
        "/a/..//evil.example",
        "/.//evil.example",
        "/%2e%2e//evil.example",
        "/x\x00",
        "/x\u200b",
        "/x\u3000y",
        "/" + "a" * 600,
        "\\\\evil",
        "",
        None,
        42,
    ],
)
def test_unsafe_or_odd_targets_fall_back_to_the_top(value: object) -> None:
    assert local_path(value) == "/"


@pytest.mark.parametrize(
    "value", ["/", "/admin", "/admin/staff?q=x", "/admin/audit?kind=login&before=12", "/admin/account/%E4%BD%90"]
)
def test_ordinary_local_paths_are_kept(value: str) -> None:
    assert local_path(value) == value
