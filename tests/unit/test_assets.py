"""The page code's versioned addresses and module graph (jiseki.gateway.web.assets)."""

from __future__ import annotations

from importlib import resources

import pytest

from jiseki.gateway.web import assets


def test_the_viewer_graph_holds_every_module_it_imports_once() -> None:
    graph = assets.module_graph("app/viewer.js")
    assert graph[0] == "app/viewer.js"
    assert len(graph) == len(set(graph))
    assert {"core/connection.js", "core/protocol.js", "core/keyboard.js", "core/reconnect.js"} <= set(graph)
    root = resources.files("jiseki.web").joinpath("static")
    for path in graph:
        assert root.joinpath(path).is_file(), path
        # Closed: whatever a module imports is in the graph too (preloading misses nothing).
        assert set(assets.imports_of(root.joinpath(path).read_text("utf-8"), path)) <= set(graph)


def test_imports_resolve_relative_to_the_module() -> None:
    source = "import { a } from './x.js';\nimport { b,\n  c } from '../core/y.js';\nexport { d } from './z.js';\n"
    assert assets.imports_of(source, "app/m.js") == ["app/x.js", "core/y.js", "app/z.js"]
    with pytest.raises(ValueError):
        assets.imports_of("import x from '../../etc/passwd';", "app/m.js")


def test_the_address_carries_a_digest_of_the_files() -> None:
    url = assets.url("app/viewer.js")
    assert url.startswith(assets.PREFIX) and url.endswith("/app/viewer.js")
    digest = url[len(assets.PREFIX) :].split("/")[0]
    assert len(digest) == 16 and int(digest, 16) >= 0
