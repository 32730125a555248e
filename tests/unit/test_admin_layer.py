"""Layer rule: the CLI and the console change administrative data only through `jiseki.gateway.admin`
(whose every operation writes an audit event). From the modules below admin they may import only what
checks or reads; `tests/integration/test_admin_writes.py` runs every CLI write and checks its event."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "jiseki"
FRONTS = [*sorted((ROOT / "cli").glob("*.py")), *sorted((ROOT / "gateway/web/console").glob("*.py"))]
# The modules `admin` wraps: their writers record no audit event themselves.
BELOW_ADMIN = {
    "jiseki.gateway.hosts",
    "jiseki.gateway.terminals",
    "jiseki.gateway.enrollment",
    "jiseki.gateway.policies_db",
    "jiseki.gateway.holidays",
    "jiseki.gateway.certs",
    "jiseki.gateway.auth.accounts",
}
READERS = {
    "valid_host_id",
    "valid_terminal_id",
    "valid_login_id",
    "ROLES",
    "effective_for",
    "organisation_policy",
    *("HOLIDAY", "Calendar", "closed_days", "days_off", "today_jst"),  # the holiday calendar's readers
}


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    if node.level == 0:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_below_admin(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(path, node)
            for alias in node.names:
                name = f"{module}.{alias.name}"
                if name in BELOW_ADMIN or (module in BELOW_ADMIN and alias.name not in READERS):
                    found.append(name)
    return found


def test_the_cli_and_the_console_write_only_through_admin() -> None:
    offending = {str(p.relative_to(ROOT)): imports_below_admin(p) for p in FRONTS}
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_rule_sees_an_unaudited_writer() -> None:
    probe = ROOT / "layer_probe.py"  # as if it were a module of jiseki/cli/
    probe.write_text(
        "from .gateway.policies_db import set_policy, effective_for\nfrom .gateway import hosts\n", "utf-8"
    )
    try:
        assert imports_below_admin(probe) == ["jiseki.gateway.policies_db.set_policy", "jiseki.gateway.hosts"]
    finally:
        probe.unlink()
