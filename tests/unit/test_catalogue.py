"""Every user-visible string has a Japanese translation, and the English catalogue lists it too."""

from __future__ import annotations

import re
from pathlib import Path

from jiseki.gateway.auth.passwords import PasswordPolicy
from jiseki.gateway.web.pages import VIEWER_STRINGS
from jiseki.i18n import catalogue

ROOT = Path(__file__).resolve().parents[2] / "jiseki"
_CALL = re.compile(r"""\b_\(\s*(["'])((?:\\.|(?!\1).)+)\1""")
_NOOP = re.compile(r"""\bN_\(\s*(["'])((?:\\.|(?!\1).)+)\1""")  # ids translated where they are shown


def used_msgids() -> set[str]:
    found: set[str] = set(VIEWER_STRINGS.values())
    for path in list(ROOT.rglob("*.html")) + list(ROOT.rglob("*.py")):
        source = path.read_text("utf-8")
        for match in [*_CALL.finditer(source), *_NOOP.finditer(source)]:
            found.add(match.group(2).encode().decode("unicode_escape").encode("latin-1").decode("utf-8"))
    # Messages held in tables and passed to _() indirectly.
    from jiseki.gateway.web import auth_pages

    found |= {msgid for _status, msgid in auth_pages._LOGIN_MESSAGES.values()}
    policy = PasswordPolicy(min_length=99, min_classes=4)
    found |= {p.msgid for p in policy.problems("password", "password")}
    found |= {p.msgid for p in policy.problems("x" * 300)}
    found |= {r.msgid for r in policy.rules()}
    from jiseki.gateway import reports

    found |= set(reports.HEADERS.values()) | {"Usage", "By hour of day", "Hour"}
    return found


def test_every_msgid_has_a_japanese_translation() -> None:
    ja = catalogue("ja")
    missing = sorted(m for m in used_msgids() if m not in ja)
    assert missing == [], "add to jiseki/locale/ja/LC_MESSAGES/messages.po:\n" + "\n".join(missing)


def test_english_catalogue_lists_every_japanese_msgid() -> None:
    en_text = (ROOT / "locale" / "en" / "LC_MESSAGES" / "messages.po").read_text("utf-8")
    missing = [m for m in catalogue("ja") if f'msgid "{m}"' not in en_text.replace('\\"', '"')]
    assert missing == []


def test_placeholders_survive_translation() -> None:
    for msgid, text in catalogue("ja").items():
        assert set(re.findall(r"\{\w+\}", msgid)) == set(re.findall(r"\{\w+\}", text)), msgid


def test_both_catalogues_parse_without_problems() -> None:
    """A msgid without its msgstr line is dropped with a warning on stderr (which `jiseki agent
    selftest`, printing both languages, would show on every run)."""
    from babel.messages.pofile import read_po

    for lang in ("ja", "en"):
        with (ROOT / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            assert len(read_po(fh, locale=lang, abort_invalid=True)) > 100
