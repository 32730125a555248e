"""The settings catalogue is the one description of a policy setting: every surface derived from it
(validation, combination, the agent's subset, the CLI, the console's readers, the docs) knows every
row. Adding a row without its typed field, column or control fails here."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from jiseki.agent.policy import AgentPolicy, parse_agent_policy
from jiseki.cli import build_parser
from jiseki.cli.policy import settings_from_args, show_lines
from jiseki.gateway.db.models import PolicyRow
from jiseki.gateway.policy import DEFAULT, Effective, Policy, PolicyError, combine
from jiseki.gateway.web.console.policies import READERS
from jiseki.i18n import catalogue, gettext
from jiseki.policy_settings import AGENT_SETTINGS, COLUMNS, SETTINGS, Setting, docs_table

ROOT = Path(__file__).resolve().parents[2]


def example(s: Setting) -> Any:
    """A valid stored value other than the default, per kind of control."""
    form = s.kind.form
    if form == "choice":
        return next(c for c in s.kind.choices if c != s.default)  # type: ignore[attr-defined]
    return {"number": 7, "switch": not s.default, "days": "mon,wed", "window": ("08:00", "20:00")}[form]


def cli_text(s: Setting) -> str:
    value = example(s)
    if s.kind.form == "switch":
        return "yes" if value else "no"
    if s.kind.form == "window":
        return "-".join(value)
    return str(value)


BAD = {"choice": "sometimes", "number": -1, "switch": "yes", "days": "mon,someday", "window": ("25:00", "08:00")}


def columns_of(s: Setting, value: Any) -> dict[str, Any]:
    return s.kind.to_columns(s.name, value)


def test_every_setting_has_its_typed_field_column_and_label() -> None:
    typed = [f.name for f in dataclasses.fields(Effective) if f.name not in ("sources", "calendar")]
    assert typed == [s.name for s in SETTINGS]
    # second_factor (0011) is kept on the same rows but decides the login, not sessions: not a setting.
    meta = {"id", "scope", "target_id", "updated_at", "updated_by", "second_factor"}
    assert [c.name for c in PolicyRow.__table__.columns if c.name not in meta] == list(COLUMNS)
    ja = catalogue("ja")
    for s in SETTINGS:
        assert s.label in ja, s.name
        for label in getattr(s.kind, "labels", {}).values():
            assert label in ja, (s.name, label)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_validated(setting: Setting) -> None:
    Policy("p", **columns_of(setting, example(setting))).validated()
    with pytest.raises(PolicyError) as refused:
        Policy("p", **columns_of(setting, BAD[setting.kind.form])).validated()
    assert str(refused.value).split(":")[0] in (setting.name, *setting.columns)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_combined_with_its_source(setting: Setting) -> None:
    default = combine([])
    assert getattr(default, setting.name) == setting.default_effective
    assert default.sources[setting.name] == DEFAULT.name
    value = setting.kind.effective(example(setting))
    alone = combine([Policy("department:総務課", **columns_of(setting, example(setting)))])
    assert getattr(alone, setting.name) == value and alone.sources[setting.name] == "department:総務課"
    # With the default's value in another policy, the rule still decides (and names a policy).
    both = combine([Policy("a", **columns_of(setting, example(setting))), Policy("b", **DEFAULT.values)])
    assert both.sources[setting.name] in ("a", "b", "a, b")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_a_policy_set_flag_and_a_show_line(setting: Setting) -> None:
    args = build_parser().parse_args(["policy", "set", "--department", "総務課", setting.flag, cli_text(setting)])
    assert settings_from_args(args) == columns_of(setting, example(setting))
    lines = show_lines(combine([Policy("p", **columns_of(setting, example(setting)))]))
    assert [line.split()[0] for line in lines] == [s.name for s in SETTINGS]
    assert any(line.split()[0] == setting.name and line.endswith("(from p)") for line in lines)


def test_every_kind_of_control_is_read_back_and_drawn() -> None:
    template = (ROOT / "jiseki/web/templates/console/policies.html").read_text("utf-8")
    branches = re.findall(r'\{%-? (?:el)?if s\.kind\.form == "(\w+)"', template)
    for s in SETTINGS:
        assert s.kind.form in READERS
        assert branches.count(s.kind.form) == 2, s.kind.form  # the form's control and the preview's value


def test_the_agent_takes_every_agent_setting_from_the_offer() -> None:
    names = {f.name for f in dataclasses.fields(AgentPolicy)}
    assert names == ({s.name for s in AGENT_SETTINGS} - {"clipboard"}) | {"clipboard_to_host", "clipboard_to_terminal"}
    values = {k: v for s in SETTINGS for k, v in columns_of(s, example(s)).items()}
    offer = combine([Policy("p", **values)]).for_agent()
    assert set(offer) == {s.name for s in AGENT_SETTINGS}
    taken = parse_agent_policy(offer)
    for s in AGENT_SETTINGS:
        if s.name != "clipboard":
            assert getattr(taken, s.name) == offer[s.name] != s.default, s.name
    assert taken.view_only and not taken.clipboard_to_host  # "to_host", taken away by view-only
    taken = parse_agent_policy(combine([Policy("p", **{**values, "view_only": False})]).for_agent())
    assert (taken.clipboard_to_host, taken.clipboard_to_terminal) == (True, False)
    # and each one falls back to its own default when the offer's value is malformed
    assert parse_agent_policy({s.name: [] for s in AGENT_SETTINGS}) == AgentPolicy()


def test_docs_table_is_current() -> None:
    text = (ROOT / "docs/security.md").read_text("utf-8")
    found = re.search(r"<!-- policy-settings: begin \(generated\) -->\n(.*?)<!-- policy-settings: end -->", text, re.S)
    assert found, "docs/security.md lost its generated settings table"
    expected = docs_table(lambda msgid: gettext("ja", msgid))
    assert found.group(1) == expected, "regenerate the table with jiseki.policy_settings.docs_table:\n" + expected
    enforcement = text[found.end() : text.index("**Dropped messages are audited")]
    for s in SETTINGS:
        assert f"| `{s.name}`" in enforcement or f", `{s.name}`" in enforcement, f"how is {s.name} enforced?"


def test_clipboard_modes_and_the_size_cap_are_defined_once() -> None:
    sources = {p: p.read_text("utf-8") for p in (ROOT / "jiseki").rglob("*.py")}
    caps = [p.relative_to(ROOT) for p, src in sources.items() if re.search(r"^MAX_CLIPBOARD\w* = ", src, re.M)]
    assert caps == [Path("jiseki/protocol/limits.py")]
    modes = [p.relative_to(ROOT) for p, src in sources.items() if re.search(r"""["']to_terminal["']\s*:""", src)]
    assert modes == [Path("jiseki/policy_kinds.py")]


@pytest.mark.parametrize("module", ["policy_settings", "policy_kinds"])
def test_the_catalogue_imports_nothing_of_the_gateway_or_the_agent(module: str) -> None:
    tree = ast.parse((ROOT / "jiseki" / f"{module}.py").read_text("utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert all(n.level == 0 for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert imported and not [m for m in imported if m.startswith(("jiseki.gateway", "jiseki.agent"))]
