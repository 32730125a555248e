"""The pure parts of the diagnosis: order, wording (Japanese, JST), and that both wordings exist."""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

import pytest

from jiseki.gateway import diagnosis
from jiseki.gateway.access import Refusal
from jiseki.gateway.diagnosis import BLOCKING, INFO, OK, WARNING, Finding
from jiseki.gateway.web.pages import finding_text, refusal_text
from jiseki.i18n import gettext


def ja(msgid: str, /, **values: Any) -> str:
    text = gettext("ja", msgid)
    return text.format(**values) if values else text


def test_blocking_findings_come_first_and_keep_their_order() -> None:
    found = [
        Finding("pc_ok", OK),
        Finding("pc_locked", INFO),
        Finding("locked", BLOCKING),
        Finding("offline", BLOCKING),
    ]
    found.insert(1, Finding("no_second_factor", WARNING))
    assert [f.code for f in diagnosis.ordered(found)] == ["locked", "offline", "no_second_factor", "pc_locked", "pc_ok"]
    assert [f.code for f in diagnosis.blocking(found)] == ["locked", "offline"]


def test_times_are_told_in_japan_time_and_numbers_without_spaces() -> None:
    until = dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC)  # 09:30 in Japan
    text = finding_text(ja, Finding("locked", BLOCKING, {"until": until}))
    assert "2026/12/05（土）09:30までアカウントがロックされています" in text
    staff = finding_text(ja, Finding("locked", BLOCKING, {"until": until}), staff=True)
    assert "ヘルプデスク" in staff


def test_the_policy_is_named_as_the_policies_page_names_it() -> None:
    text = finding_text(ja, Finding("view_only", INFO, {"pc": "PC 1 (pc-1)", "policy": "department:総務課"}))
    assert "総務課" in text and "department:" not in text


def test_a_refusal_reads_as_the_portal_reads_it() -> None:
    refusal = Refusal("hours", "organisation", dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC))
    finding = Finding("refused", BLOCKING, {"pc": "PC 1 (pc-1)"}, "pc-1", refusal=refusal)
    portal = refusal_text(ja, refusal)
    assert finding_text(ja, finding, staff=True) == portal  # the staff see exactly the portal's words
    assert finding_text(ja, finding).endswith(portal)


@pytest.mark.parametrize("code", sorted(diagnosis.TEXTS))
def test_each_wording_has_japanese_with_the_same_placeholders(code: str) -> None:
    for msgid in diagnosis.TEXTS[code]:
        if not msgid:
            continue
        japanese = gettext("ja", msgid)
        assert japanese != msgid, msgid
        names = {f for _t, f, _s, _c in string.Formatter().parse(msgid) if f}
        assert names == {f for _t, f, _s, _c in string.Formatter().parse(japanese) if f}, msgid
    assert diagnosis.TEXTS[code][0], "every finding has a message for the helpdesk"
