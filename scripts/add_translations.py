"""Append msgid/msgstr pairs to the catalogues: `python scripts/add_translations.py [--replace] pairs.tsv`.

Each line of the TSV: English msgid <TAB> Japanese text. Existing msgids are left alone (with
`--replace`, their Japanese text is replaced); the English catalogue gets the msgid with an empty
msgstr (English is the source language).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from jiseki.i18n import catalogue

LOCALE = Path(__file__).resolve().parent.parent / "jiseki" / "locale"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


_STRING = r'"(?:[^"\\]|\\.)*"\n'


def replace(path: str) -> int:
    """Rewrite the Japanese text of msgids that exist (one-line msgids)."""
    po = LOCALE / "ja/LC_MESSAGES/messages.po"
    text = po.read_text("utf-8")
    changed = 0
    for line in Path(path).read_text("utf-8").splitlines():
        if not line.strip():
            continue
        msgid, ja = line.split("\t", 1)
        entry = re.compile(rf'^(msgid "{re.escape(_esc(msgid))}"\nmsgstr )({_STRING}(?:{_STRING})*)', re.M)
        new = f'"{_esc(ja)}"\n'
        text, n = entry.subn(lambda m, new=new: m.group(1) + new, text, count=1)
        changed += n
    po.write_text(text, "utf-8")
    print(f"replaced {changed} message(s)")
    return 0


def main(path: str) -> int:
    have = set(catalogue("ja"))
    added = 0
    with (
        (LOCALE / "ja/LC_MESSAGES/messages.po").open("a", encoding="utf-8") as ja,
        (LOCALE / "en/LC_MESSAGES/messages.po").open("a", encoding="utf-8") as en,
    ):
        for line in Path(path).read_text("utf-8").splitlines():
            if not line.strip():
                continue
            msgid, text = line.split("\t", 1)
            if msgid in have:
                continue
            ja.write(f'msgid "{_esc(msgid)}"\nmsgstr "{_esc(text)}"\n\n')
            en.write(f'msgid "{_esc(msgid)}"\nmsgstr ""\n\n')
            have.add(msgid)
            added += 1
    print(f"added {added} message(s)")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--replace":
        raise SystemExit(replace(sys.argv[2]))
    raise SystemExit(main(sys.argv[1]))
