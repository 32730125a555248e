"""The manuals' sources and their build, without a browser: the messages they quote are the product's own,
the screenshots they show are ones the end-to-end module takes, the contents find each heading's page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.e2e import manual_build

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "jiseki" / "locale" / "ja" / "LC_MESSAGES" / "messages.po"
SHOTS_MODULE = ROOT / "tests" / "e2e" / "test_manual_screenshots.py"


def _japanese_messages() -> list[re.Pattern[str]]:
    """Each Japanese message as a pattern: a placeholder ({n}, {time}) stands for any text."""
    with CATALOGUE.open("rb") as f:
        catalog = read_po(f)
    patterns = []
    for message in catalog:
        text = message.string if isinstance(message.string, str) else ""
        if len(text) >= 8:
            parts = re.split(r"\{[a-z_]+\}", text)
            patterns.append(re.compile(".+?".join(re.escape(p) for p in parts)))
    return patterns


def _quoted_messages(text: str) -> list[str]:
    """The messages the staff manual's table 7.1 quotes (its first column, alternatives split at ／)."""
    table = text.split("## 7.1", 1)[1].split("\n\n", 2)[1]
    quoted = []
    for line in table.splitlines()[2:]:
        cell = line.split("|")[1].strip()
        quoted += [part.strip() for part in cell.split("／")]
    return quoted


def test_the_staff_manual_quotes_the_real_messages() -> None:
    text = manual_build.source_of(manual_build.MANUALS[0]).read_text("utf-8")
    quoted = _quoted_messages(text)
    assert len(quoted) >= 10
    patterns = _japanese_messages()
    # The manual writes … (or n) where the page shows a value.
    unknown = [
        q
        for q in quoted
        if not any(p.fullmatch(q.replace("…", "X").replace("n秒", "30秒")) for p in patterns)
        and not any(p.fullmatch(q) for p in patterns)
    ]
    assert unknown == [], f"not in the catalogue: {unknown}"


@pytest.mark.parametrize("manual", manual_build.MANUALS, ids=lambda m: m.name)
def test_every_screenshot_shown_is_taken(manual: manual_build.Manual) -> None:
    module = SHOTS_MODULE.read_text("utf-8")
    # shot(page, "name") calls, and the console's ("name", "/admin/…", heading) rows.
    taken = set(re.findall(r'shot\([^,]+, "([a-z0-9-]+)"', module) + re.findall(r'\("([a-z0-9-]+)", f?"/admin', module))
    shown = {Path(p).stem for p in manual_build.referenced_images(manual_build.source_of(manual).read_text("utf-8"))}
    assert len(shown) >= 5
    assert shown - taken == set()


@pytest.mark.parametrize("manual", manual_build.MANUALS, ids=lambda m: m.name)
def test_html_has_a_title_page_and_contents(manual: manual_build.Manual) -> None:
    text = manual_build.source_of(manual).read_text("utf-8")
    found = manual_build.headings(text)
    assert [level for _, _, level in found].count(1) >= 6
    pages = {anchor: i + 3 for i, (anchor, _, _) in enumerate(found)}
    page = manual_build.to_html(manual, text, "2026年12月6日 版", pages)
    assert '<section class="title-page">' in page and manual.title in page and "<h2>目次</h2>" in page
    first_anchor, first_name, _ = found[0]
    assert f'<a href="#{first_anchor}">{first_name}</a><span class="page">3</span>' in page
    assert f'id="{first_anchor}"' in page
    assert "@page { size: A4" in page and "Noto Sans CJK JP" in page


def test_heading_pages_skip_the_contents_and_read_radicals() -> None:
    found = [("a", "1. jiseki とは", 1), ("b", "1.1 用意するもの", 2), ("c", "2. コピー・貼り付け", 1)]
    pages = [
        manual_build.flat(t)
        for t in (
            "jiseki 利⽤マニュアル",  # the title page, with a radical as the PDF's text layer has it
            "目次 1. jiseki とは 1.1 ⽤意するもの 2. コピー‧貼り付け",
            "1. jiseki とは 本文",
            "1.1 ⽤意するもの",
            "本文",
            "2. コピー‧貼り付け",
        )
    ]
    assert manual_build.heading_pages(found, pages) == {"a": 3, "b": 4, "c": 6}
    assert manual_build.heading_pages(found, pages[:3]) == {"a": 3}  # a heading not printed is not given a page
