"""/healthz, /readyz and /metrics on a running gateway: reachable as documented, scraped and parsed
with prometheus_client's parser, no personal data; readiness fails while draining or without the
database; the log file rotates with mode 0640."""

from __future__ import annotations

import json
import logging
import stat
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import async_sessionmaker

from jiseki.config import Config, GatewayConfig
from jiseki.gateway.db.engine import make_engine
from jiseki.gateway.logs import add_log_file
from jiseki.gateway.state import open_state
from jiseki.gateway.web.health import not_ready
from tests.integration.conftest import Browser, RunningGateway
from tests.integration.test_console_flows import _live_session

pytestmark = pytest.mark.database  # readiness asks the database: run on PostgreSQL too


async def _get(gateway: RunningGateway, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(gateway.url + path, ssl=gateway.plain_ssl()) as r:
        return r.status, await r.text()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_health_readiness_and_metrics_of_a_running_gateway(gateway: RunningGateway) -> None:
    # No client certificate needed for the health checks (a load balancer has none).
    assert await _get(gateway, "/healthz") == (200, json.dumps({"status": "ok"}))
    status, body = await _get(gateway, "/readyz")
    assert status == 200 and json.loads(body) == {"status": "ready"}
    async with Browser(gateway, gateway.terminal_ssl()) as alice, aiohttp.ClientSession() as s:
        control, viewer, agent, _created = await _live_session(gateway, alice, s)
        live = _samples((await _get(gateway, "/metrics"))[1])
        await agent.send_bytes(b"\x00" * 10)  # relayed bytes (an invalid message ends it: still counted)
        async with Browser(gateway, gateway.terminal_ssl("term-2")) as bob:
            await bob.login(replace(gateway.staff["bob"], password="not-bobs-password"))
        status, text = await _get(gateway, "/metrics")
        assert status == 200
        for ws in (agent, viewer, control):
            await ws.close()
    samples = _samples(text)
    node = gateway.config.gateway.effective_node_id
    assert samples[("jiseki_logins_total", (("node", node), ("outcome", "ok")))] >= 1
    assert samples[("jiseki_logins_total", (("node", node), ("outcome", "denied")))] >= 1
    assert samples[("jiseki_agents_online", (("node", node),))] == 1
    assert live[("jiseki_sessions_live", (("node", node),))] == 1
    assert samples[("jiseki_draining", (("node", node),))] == 0
    assert samples[("jiseki_relay_bytes_total", (("node", node), ("side", "agent")))] >= 10
    latency = [k for k in samples if k[0] == "jiseki_http_request_duration_seconds_count"]
    assert any(("route", "/login") in labels for _name, labels in latency)
    assert any(("route", "/api/sessions") in labels for _name, labels in latency)
    assert samples[("jiseki_http_errors_total", (("node", node), ("status", "401")))] >= 1  # bob's wrong password
    # Nothing personal: no login IDs, names or addresses anywhere in the scrape.
    for personal in ("alice", "bob", "Alice", "127.0.0.1", "pc-1", "term-1"):
        assert personal not in text


@pytest.mark.parametrize("gateway_options", [{"metrics_networks": ("10.99.0.0/16",)}])
async def test_metrics_are_refused_outside_their_networks_while_health_stays_open(gateway: RunningGateway) -> None:
    assert (await _get(gateway, "/metrics"))[0] == 403
    assert (await _get(gateway, "/healthz"))[0] == 200
    assert (await _get(gateway, "/readyz"))[0] == 200


async def test_not_ready_while_draining_or_without_the_database(tmp_path: Path) -> None:
    state = await open_state(Config(gateway=GatewayConfig(data_dir=tmp_path / "gw")))
    try:
        assert await not_ready(state) is None
        state.broker.draining = True
        assert await not_ready(state) == "draining"
        state.broker.draining = False
        dead = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
        state.db = async_sessionmaker(dead)
        assert await not_ready(state) == "database_unreachable"
        await dead.dispose()
    finally:
        await state.engine.dispose()


def test_the_log_file_rotates_by_size_and_is_0640(tmp_path: Path) -> None:
    path = tmp_path / "log" / "gateway.log"
    handler = add_log_file(path, 64 * 1024, 2)
    try:
        logger = logging.getLogger("jiseki.test_rotation")
        logger.setLevel(logging.INFO)
        for i in range(2000):
            logger.info("line %d %s", i, "x" * 100)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["gateway.log", "gateway.log.1", "gateway.log.2"]
    for name in files:
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o640
        assert (path.parent / name).stat().st_size <= 64 * 1024


def test_db_current_downgrade_and_upgrade_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jiseki.cli import main

    config = tmp_path / "c.toml"
    config.write_text(f'[gateway]\ndata_dir = "{tmp_path / "d"}"\n', "utf-8")
    from alembic.script import ScriptDirectory

    from jiseki.gateway.db.engine import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_revision("head")
    new, old = head.revision, head.down_revision
    steps = [(["db", "upgrade"], 0, "newest"), (["db", "current"], 0, f"{new}; newest this jiseki knows: {new}")]
    steps += [(["db", "downgrade", "-1"], 0, "downgraded to -1"), (["db", "current"], 4, f"schema: {old};")]
    steps += [(["db", "upgrade"], 0, "newest"), (["db", "current"], 0, f"schema: {new};")]
    for argv, code, text in steps:
        assert main(["--config", str(config), *argv]) == code
        assert text in capsys.readouterr().out
