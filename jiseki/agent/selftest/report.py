"""The selftest's report: bilingual text (every line Japanese, then English, whatever the locale: the
IT staff reading it may read either), or JSON for automation."""

from __future__ import annotations

import json

from jiseki.i18n import N_, gettext

from .checks import CHECK_NAMES, STATUS_LABELS, CheckResult, Note, Status, exit_status


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) or "—"
    return str(value)


def say(lang: str, note: Note) -> str:
    return gettext(lang, note.msgid).format(**{k: _value(v) for k, v in note.values.items()})


def both(note: Note) -> str:
    """`日本語 / English`; once when the two read the same (a bare figure)."""
    ja, en = say("ja", note), say("en", note)
    return ja if ja == en else f"{ja} / {en}"


def _label(result: CheckResult) -> str:
    status = STATUS_LABELS[result.status]
    name = CHECK_NAMES[result.name_key]
    return f"[{gettext('ja', status)} {gettext('en', status)}] {gettext('ja', name)} / {gettext('en', name)}"


def header(platform: str) -> str:
    return both(Note(N_("jiseki agent selftest on {platform}"), {"platform": platform}))


def result_lines(result: CheckResult) -> list[str]:
    return [f"{_label(result)}: {both(result.detail)}", *(f"    - {both(note)}" for note in result.notes)]


def summary(results: list[CheckResult]) -> str:
    counts = {s: sum(r.status is s for r in results) for s in Status}
    return both(
        Note(
            N_("Result: {passed} passed, {warned} to check, {failed} failed, {skipped} skipped"),
            {
                "passed": counts[Status.PASS],
                "warned": counts[Status.WARN],
                "failed": counts[Status.FAIL],
                "skipped": counts[Status.SKIP],
            },
        )
    )


def render_lines(results: list[CheckResult], platform: str) -> list[str]:
    return [header(platform), *(line for r in results for line in result_lines(r)), summary(results)]


def render_json(results: list[CheckResult], platform: str) -> str:
    def text(note: Note) -> dict[str, str]:
        return {"ja": say("ja", note), "en": say("en", note)}

    doc = {
        "platform": platform,
        "exit_status": exit_status(results),
        "checks": [
            {
                "name": r.name_key,
                "status": r.status.value,
                "detail": text(r.detail),
                "notes": [text(n) for n in r.notes],
                "figures": r.figures,
            }
            for r in results
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str)
