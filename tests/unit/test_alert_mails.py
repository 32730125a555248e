"""The alert mails' words (Japanese by default, English for English users, dates in JST), the
usual-hours span and the certificate thresholds."""

from __future__ import annotations

import datetime as dt

import pytest

from jiseki.gateway.alerts import kinds
from jiseki.gateway.alerts.checks import threshold
from jiseki.gateway.alerts.hooks import outside_hours
from jiseki.gateway.alerts.links import digest, form_token, plausible

AT = dt.datetime(2026, 12, 5, 13, 14, tzinfo=dt.UTC)  # 22:14 JST


def test_a_new_terminal_mail_in_japanese_with_the_link() -> None:
    facts = {"user": "yamada", "terminal": "term-7", "at": AT, "address": "203.0.113.5"}
    subject, body = kinds.compose(kinds.NEW_TERMINAL, facts, None, "https://j.example/act/abc", 24)
    assert subject == "【jiseki】初めて使う端末からのログイン"
    assert "yamadaさんが、これまで使っていない端末（term-7）からログインしました。" in body
    assert "日時：2026/12/05（土）22:14" in body and "接続元アドレス：203.0.113.5" in body
    assert "24時間以内" in body and "https://j.example/act/abc" in body and "返信しないでください" in body


def test_english_for_an_english_user_and_no_link_for_the_admins() -> None:
    facts = {"name": "terminal term-7", "days": 7, "expires": AT}
    subject, body = kinds.compose(kinds.CERT_EXPIRY, facts, "en")
    assert subject == "[jiseki]Certificate about to expire"
    assert "The certificate terminal term-7 expires in 7 days or less." in body
    assert "Expires: 2026/12/05 (Sat) 22:14" in body and "/act/" not in body


def test_every_kind_has_words_and_a_body() -> None:
    for kind in kinds.CHOOSABLE:
        subject, body = kinds.compose(kind, {}, "ja")
        assert subject.startswith("【jiseki】") and body.strip()


@pytest.mark.parametrize(
    ("hours", "jst", "outside"),
    [
        ("22:00-06:00", "23:30", True),
        ("22:00-06:00", "05:59", True),
        ("22:00-06:00", "06:00", False),
        ("22:00-06:00", "12:00", False),
        ("12:00-13:00", "12:30", True),
        ("", "03:00", False),
    ],
)
def test_usual_hours_in_jst(hours: str, jst: str, outside: bool) -> None:
    h, m = (int(x) for x in jst.split(":"))
    when = dt.datetime(2026, 12, 5, h, m, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert outside_hours(hours, when) is outside


def test_certificate_thresholds() -> None:
    now = AT
    assert threshold(now + dt.timedelta(days=40), now) is None
    assert threshold(now + dt.timedelta(days=30), now) == 30
    assert threshold(now + dt.timedelta(days=6), now) == 7
    assert threshold(now + dt.timedelta(hours=3), now) == 1
    assert threshold(now - dt.timedelta(hours=3), now) is None


def test_link_tokens_are_checked_before_any_lookup() -> None:
    assert not plausible("") and not plausible("a" * 65) and not plausible("../../etc/passwd-aaaaaaaaaaaa")
    assert plausible("A" * 43) and digest("x") != form_token("x") and len(digest("x")) == 64


async def test_a_server_that_does_not_answer_or_a_bad_address_is_a_mail_error() -> None:
    from jiseki.config_mail import MailConfig
    from jiseki.gateway.alerts import mailer
    from tests.conftest import free_port

    config = MailConfig(enabled=True, host="127.0.0.1", port=free_port(), from_address="j@example.lg.jp")
    with pytest.raises(mailer.MailError, match="ConnectionRefused"):
        await mailer.send(config, "a@example.lg.jp", "s", "b")
    with pytest.raises(mailer.MailError, match="cannot build"):
        await mailer.send(config, "a@example.lg.jp\r\nBcc: x@evil.example", "s", "b")
    with pytest.raises(mailer.MailError, match="not enabled"):
        await mailer.send(MailConfig(), "a@example.lg.jp", "s", "b")
