"""The layer rules, read from the source with `ast`:

- web handlers (`jiseki/gateway/web/`) do no SQL of their own: they import nothing of SQLAlchemy and
  use a database session only by handing it to domain functions (no `s.execute`, `s.get`, `s.add`…,
  no ORM attribute written inside a transaction);
- `jiseki.protocol` imports nothing of the agent or the gateway;
- `jiseki.agent` never imports `jiseki.gateway` (the known exceptions are listed exactly);
- only the platform's backend modules import Win32 or X11 code, and only `agent/backends.py` picks them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "jiseki"
WEB = PACKAGE / "gateway" / "web"

# Files under web/ allowed SQL of their own: none.
WEB_ALLOWED: set[str] = set()

# What an AsyncSession does; any of them on a session inside web/ is SQL of the handler's own.
SESSION_METHODS = frozenset(
    {
        "add",
        "add_all",
        "begin_nested",
        "commit",
        "delete",
        "execute",
        "expire",
        "expunge",
        "flush",
        "get",
        "get_one",
        "merge",
        "refresh",
        "rollback",
        "run_sync",
        "scalar",
        "scalars",
        "stream",
        "stream_scalars",
    }
)


def _modules(folder: Path) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(folder.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text("utf-8"), str(path))


def _module_name(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(rel: str, tree: ast.Module) -> set[str]:
    """Every module this file imports (relative imports resolved; `from x import y` gives x and x.y)."""
    package = _module_name(rel) if rel.endswith("__init__.py") else _module_name(rel).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _is_db(expr: ast.expr) -> bool:
    """`state.db()`, `state.db.begin()`, `request.app[STATE].db()`…: a session from the sessionmaker."""
    if not isinstance(expr, ast.Call):
        return False
    func = expr.func
    if isinstance(func, ast.Attribute) and func.attr == "begin":
        func = func.value
    return isinstance(func, ast.Attribute) and func.attr == "db"


def orm_calls(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, what) for each use of a database session other than handing it to a function, and each
    attribute written inside a database transaction."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.AsyncWith):
            continue
        names = {
            item.optional_vars.id
            for item in node.items
            if _is_db(item.context_expr) and isinstance(item.optional_vars, ast.Name)
        }
        if not names:
            continue
        for inner in (n for stmt in node.body for n in ast.walk(stmt)):
            if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) and inner.value.id in names:
                found.append((inner.lineno, f"{inner.value.id}.{inner.attr}"))
            elif isinstance(inner, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = inner.targets if isinstance(inner, ast.Assign) else [inner.target]
                for target in targets:
                    if isinstance(target, ast.Attribute):
                        found.append((inner.lineno, f"writes {ast.unparse(target)} in a transaction"))
    # A session that came in as an argument (a query helper living in web/) is the same thing.
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params = {
                a.arg
                for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
                if a.annotation is not None and "AsyncSession" in ast.unparse(a.annotation)
            }
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and isinstance(inner.func.value, ast.Name)
                    and inner.func.value.id in params
                    and inner.func.attr in SESSION_METHODS
                ):
                    found.append((inner.lineno, f"{inner.func.value.id}.{inner.func.attr}()"))
    return sorted(set(found))


def web_violations() -> list[str]:
    problems = []
    for rel, tree in _modules(WEB):
        if rel in WEB_ALLOWED:
            continue
        for module in sorted(imported_modules(rel, tree)):
            if module == "sqlalchemy" or module.startswith("sqlalchemy."):
                problems.append(f"{rel}: imports {module}")
        problems += [f"{rel}:{line}: {what}" for line, what in orm_calls(tree)]
    return problems


def test_web_handlers_do_no_sql_of_their_own() -> None:
    assert web_violations() == []


def test_the_allow_list_names_files_that_exist() -> None:
    for rel in WEB_ALLOWED:
        assert (ROOT / rel).is_file(), rel


def test_protocol_imports_nothing_of_agent_or_gateway() -> None:
    found = [
        f"{rel}: imports {m}"
        for rel, tree in _modules(PACKAGE / "protocol")
        for m in sorted(imported_modules(rel, tree))
        if m.split(".")[:2] in (["jiseki", "agent"], ["jiseki", "gateway"])
    ]
    assert found == []


@pytest.mark.parametrize("package", ["agent", "trust"])
def test_the_agent_and_the_trust_package_import_nothing_of_the_gateway(package: str) -> None:
    """An office PC installs the agent alone: the gateway (SQLAlchemy, aiohttp server, the CA) is not
    there. What both sides need to trust each other lives in `jiseki.trust`."""
    found = [
        f"{rel}: imports {m}"
        for rel, tree in _modules(PACKAGE / package)
        for m in sorted(imported_modules(rel, tree))
        if m.split(".")[:2] == ["jiseki", "gateway"] or (package == "trust" and m.split(".")[:2] == ["jiseki", "agent"])
    ]
    assert found == []


# ---- the checks themselves catch what they are for ------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select\n",
        "import sqlalchemy.ext.asyncio\n",
        "async def h(state):\n    async with state.db() as s:\n        await s.execute(q)\n",
        "async def h(request):\n    async with request.app[STATE].db.begin() as s:\n        s.add(row)\n",
        "async def h(state):\n    async with state.db.begin() as s:\n        u = await f(s)\n        u.name = 'x'\n",
        "async def q(s: AsyncSession):\n    return await s.get(User, 1)\n",
    ],
)
def test_the_web_check_finds_sql_in_a_handler(source: str) -> None:
    tree = ast.parse(source)
    imports = [m for m in imported_modules("jiseki/gateway/web/x.py", tree) if m.startswith("sqlalchemy")]
    assert imports or orm_calls(tree)


def test_the_web_check_lets_a_handler_hand_its_session_to_domain_functions() -> None:
    source = (
        "async def h(state, request):\n"
        "    async with state.db.begin() as s:\n"
        "        row = await hosts.assigned_host(s, request.get('x'), host_id=s)\n"
        "    request.form.get('y')\n"
    )
    assert orm_calls(ast.parse(source)) == []


def test_relative_imports_are_resolved() -> None:
    tree = ast.parse("from ...gateway import pki\nfrom . import codec\n")
    assert imported_modules("jiseki/protocol/sub/x.py", tree) >= {"jiseki.gateway", "jiseki.gateway.pki"}
    assert "jiseki.protocol.codec" in imported_modules("jiseki/protocol/x.py", ast.parse("from . import codec\n"))


# One place picks the platform: the Win32 bindings and the X11 libraries are imported by the
# platform's own backend modules (and the selftest's X11 window), which only `agent/backends.py` names.
PLATFORM_BACKENDS = {
    "windows": {
        "jiseki/agent/backends.py",
        "jiseki/agent/capture/windows.py",
        "jiseki/agent/capture/windows_dxgi.py",
        "jiseki/agent/capture/windows_gdi.py",
        "jiseki/agent/input/windows.py",
        "jiseki/agent/host/windows.py",
        "jiseki/agent/clipboard/windows.py",
        "jiseki/agent/selftest/win32_window.py",
        "jiseki/agent/service/windows.py",
        "jiseki/agent/netif.py",
    },
    "x11": {
        "jiseki/agent/backends.py",
        "jiseki/agent/capture/x11.py",
        "jiseki/agent/capture/x11_events.py",
        "jiseki/agent/capture/x11_shm.py",
        "jiseki/agent/input/x11.py",
        "jiseki/agent/input/x11_keymap.py",
        "jiseki/agent/input/x11_text.py",
        "jiseki/agent/input/x11_xim.py",
        "jiseki/agent/host/x11.py",
        "jiseki/agent/clipboard/x11.py",
        "jiseki/agent/selftest/x11_window.py",
    },
}


def _platform_of(module: str) -> str | None:
    if module.startswith("jiseki.packaging."):
        return None  # the installers are built on Linux (`windows_msi` makes the MSI, it runs no Win32 code)
    if module.startswith("jiseki.agent.win32"):
        return "windows"
    if module.startswith(("Xlib", "mss")) or module.endswith((".x11", ".x11_events", ".x11_window")):
        return "x11"
    if module.split(".")[-1].startswith("x11_"):
        return "x11"
    if module.split(".")[-1].startswith(("win32_", "windows_")):
        return "windows"
    if module.endswith(".windows") and module.startswith("jiseki.agent."):
        return "windows"
    return None


def test_only_the_platform_backends_import_platform_code() -> None:
    found = []
    for rel, tree in _modules(PACKAGE):
        if rel.startswith("jiseki/agent/win32/"):
            continue  # the bindings themselves
        for module in imported_modules(rel, tree):
            platform = _platform_of(module)
            if platform is not None and rel not in PLATFORM_BACKENDS[platform]:
                found.append(f"{rel} imports {module}")
    assert found == []


@pytest.mark.parametrize(
    ("module", "platform"),
    [
        ("jiseki.agent.win32.gdi", "windows"),
        ("jiseki.agent.capture.windows", "windows"),
        ("jiseki.agent.selftest.win32_window", "windows"),
        ("jiseki.agent.capture.windows_dxgi", "windows"),
        ("Xlib.display", "x11"),
        ("mss", "x11"),
        ("jiseki.agent.input.x11_keymap", "x11"),
        ("jiseki.agent.capture.x11", "x11"),
        ("jiseki.agent.capture.base", None),
        ("jiseki.agent.runner", None),
    ],
)
def test_the_platform_check_knows_platform_code(module: str, platform: str | None) -> None:
    assert _platform_of(module) == platform
