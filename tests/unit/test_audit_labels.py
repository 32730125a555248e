"""Every audit kind, detail key and coded value the code writes has words in the console (and the
catalogue has them in Japanese); a code without words is shown as it is, marked."""

from __future__ import annotations

import ast
from pathlib import Path

import jiseki
from jiseki.gateway.auth.accounts import LoginResult
from jiseki.gateway.certs import CertStatus
from jiseki.gateway.end_reasons import END_REASON_LABELS, EndReason
from jiseki.gateway.web.console.labels import DETAIL_KEYS, KINDS, OUTCOMES
from jiseki.gateway.web.console.words import describe, field_words, value_words
from jiseki.i18n import catalogue

SOURCE = Path(jiseki.__file__).parent
NOT_DETAILS = frozenset({"actor", "subject", "address", "before", "after"})
# (function name, position of the kind): audit.event/change(kind, ...), audit.add/record(s|db, kind, ...),
# the session machine's Audit(kind, ...) and _audit(kind, ...), the trail's own event(kind, ...), the
# console's downloads audited_export(request, actor, kind, ...). A new wrapper that takes the kind goes here.
KIND_AT = {"event": 0, "change": 0, "add": 1, "record": 1, "Audit": 0, "_audit": 0, "audited_export": 2}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        if func.attr == "_audit" or (isinstance(func.value, ast.Name) and func.value.id == "audit"):
            return func.attr
        return None
    if isinstance(func, ast.Name) and func.id in ("Audit", "event", "audited_export"):
        return func.id
    return None


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _dict_keys(node: ast.AST | None) -> set[str]:
    if not isinstance(node, ast.Dict):
        return set()
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def emitted() -> tuple[set[str], set[str]]:
    """(kinds, detail keys) written by the code, found in its syntax tree."""
    kinds: set[str] = set()
    keys: set[str] = set()
    trees = [ast.parse(p.read_text("utf-8")) for p in SOURCE.rglob("*.py") if "migrations" not in p.parts]
    constants: dict[str, list[ast.expr]] = {}  # module-level NAMES, imported elsewhere (PURGE_KIND)
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                if node.targets[0].id.isupper():
                    constants.setdefault(node.targets[0].id, []).append(node.value)
    for tree in trees:
        assigned: dict[str, list[ast.expr]] = dict(constants)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    for t in names:
                        if isinstance(t, ast.Name):
                            assigned[t.id] = [*assigned.get(t.id, []), node.value]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            if name is None or len(node.args) <= KIND_AT[name]:
                continue
            kind = node.args[KIND_AT[name]]
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                kinds.add(kind.value)
            elif isinstance(kind, ast.Name):
                for value in assigned.get(kind.id, []):
                    kinds |= _strings(value)
            for kw in node.keywords:
                if kw.arg is not None and kw.arg not in NOT_DETAILS:
                    keys.add(kw.arg)
                if kw.arg in ("before", "after") or kw.arg is None:
                    keys |= _dict_keys(kw.value)
                    if isinstance(kw.value, ast.Name):
                        for value in assigned.get(kw.value.id, []):
                            keys |= _dict_keys(value)
            for arg in node.args[KIND_AT[name] + 1 :]:  # Audit(kind, outcome, fields)
                if isinstance(arg, ast.Name):
                    for value in assigned.get(arg.id, []):
                        keys |= _dict_keys(value) - NOT_DETAILS
    return kinds, keys


def test_every_kind_the_code_writes_has_a_label() -> None:
    kinds, _keys = emitted()
    assert {"login", "session_end", "recording_viewed", "clipboard", "audit_purged", "user_disabled"} <= kinds
    assert len(kinds) >= 45  # the scan found the writers (a scan that finds nothing would pass)
    assert sorted(kinds - set(KINDS)) == []


def test_every_detail_key_the_code_writes_has_a_label() -> None:
    _kinds, keys = emitted()
    assert {"bytes_to_viewer", "reason", "display_name", "hold_minutes", "direction", "user_agent"} <= keys
    assert sorted(k for k in keys if field_words(k).raw_code) == []


def test_every_coded_value_has_words_in_japanese() -> None:
    ja = catalogue("ja")
    reasons = {str(getattr(EndReason, n)) for n in dir(EndReason) if n.isupper() and n != "FINAL"} | EndReason.FINAL
    assert sorted(reasons - set(END_REASON_LABELS)) == []
    for key, codes in (
        ("reason", reasons | {s.value for s in CertStatus if s is not CertStatus.OK}),
        ("result", {r.value for r in LoginResult}),
        ("direction", {"to_host", "to_terminal"}),
        ("clipboard", {"none", "to_host", "to_terminal", "both"}),
    ):
        for value in codes:
            words = value_words(key, value)
            assert not words.raw_code and words.values is not None and words.text in ja, (key, value)
    for msgid in [*KINDS.values(), *OUTCOMES.values(), *DETAIL_KEYS.values(), *END_REASON_LABELS.values()]:
        assert msgid in ja, msgid


def test_events_in_words_and_unknown_codes_shown_marked() -> None:
    ja = catalogue("ja")

    def _(msgid: str, /, **values: object) -> str:
        text = ja.get(msgid, msgid)
        return text.format(**values) if values else text

    d = describe(
        "session_end",
        "ok",
        '{"reason": "viewer_closed", "bytes_to_viewer": 65536, "session": "s1", "brand_new": "x",'
        ' "locked_until": "2026-12-05 04:14:05+00:00"}',
    )
    assert d.kind.render(_) == "接続終了" and d.outcome.render(_) == "成功"
    facts = {k.render(_): v.render(_) for k, v in d.facts}
    assert facts["端末への通信量"] == "64.0KB" and facts["理由"] == "職員による切断" and facts["セッション"] == "s1"
    assert facts["ロック解除予定"] == "2026/12/05 13:14"  # Japan time
    brand_new = [k for k, _v in d.facts if k.text == "brand_new"]
    assert brand_new and brand_new[0].raw_code  # shown as it is, marked, never hidden
    assert describe("made_up_kind", "weird", None).kind.raw_code
    assert value_words("bytes", 65536).render(_) == "64.0KB" and value_words("bytes", 512).render(_) == "512バイト"
    assert value_words("reason", "brand_new_reason").raw_code
    download = value_words("filter", {"from": "2026-11-19", "kind": "login", "reason": "idle"})
    assert download.render(_) == "開始日：2026-11-19 / 操作・出来事：ログイン / 理由：無操作タイムアウト"
    cut = describe("login", "ok", '{"cut": "ab')
    assert cut.details_text(_) == '詳細: {"cut": "ab'
