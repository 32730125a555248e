"""The agent's sessions one after another: a newer offer replaces the running session, whose end must
not take down the new one's curtain or lock the PC under it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from jiseki.agent.host.base import HostState
from jiseki.agent.runner import Agent
from jiseki.config import AgentConfig
from jiseki.gateway.pki import CertificateAuthority


class Host:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def state(self) -> HostState:
        return HostState()

    def lock(self) -> bool:
        self.calls.append("lock")
        return True

    def set_curtain(self, on: bool) -> list[str]:
        self.calls.append("curtain on" if on else "curtain off")
        return []


class Closes:
    method = "x11"
    width = height = 8

    def close(self) -> None:
        pass


def offer(session: str) -> str:
    policy = {"curtain": True, "lock_on_end": True, "clipboard": "none"}
    return json.dumps({"type": "offer", "session": session, "ticket": "t" * 32, "path": "", "policy": policy})


@pytest.fixture
def agent(tmp_path: Path) -> tuple[Agent, Host]:
    ca = CertificateAuthority(tmp_path / "pki")
    issued = ca.issue_client_cert("agent", "pc-1", dt.timedelta(days=1))
    (tmp_path / "ca.crt").write_bytes(ca.root_cert_path.read_bytes())
    (tmp_path / "agent.crt").write_bytes(issued.cert_pem)
    (tmp_path / "agent.key").write_bytes(issued.key_pem)
    host = Host()
    made = Agent(AgentConfig(cert_dir=tmp_path), Closes, Closes, host=host)  # type: ignore[arg-type]
    return made, host


async def test_a_replaced_session_ends_before_the_new_one_starts_and_does_not_lock(
    agent: tuple[Agent, Host], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, host = agent
    started: list[str] = []
    serving = asyncio.Event()

    async def serve(_http: Any, _url: str, sid: str, *_rest: Any) -> None:
        started.append(sid)
        serving.set()
        await asyncio.sleep(3600)  # until the gateway ends it, or a newer offer replaces it

    monkeypatch.setattr(runner, "_run_data_channel", serve)
    runner._on_control(offer("a" * 32))
    await asyncio.wait_for(serving.wait(), 5)
    serving.clear()
    runner._on_control(offer("b" * 32))
    await asyncio.wait_for(serving.wait(), 5)
    assert started == ["a" * 32, "b" * 32]
    # The first session's curtain came down before the second one's went up, and nobody locked the PC.
    assert host.calls == ["curtain on", "curtain off", "curtain on"]
    task = runner._session_task
    assert task is not None
    task.cancel()  # the agent stops: this session's end locks, as the policy says
    await asyncio.gather(task, return_exceptions=True)
    assert host.calls == ["curtain on", "curtain off", "curtain on", "curtain off", "lock"]
