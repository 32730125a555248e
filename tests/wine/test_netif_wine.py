"""Wake-on-LAN on Windows under Wine: the agent's interfaces (GetAdaptersAddresses) compared with
what Linux says of the same machine (Wine's adapters are the host's), and the magic packet's socket."""

from __future__ import annotations

from jiseki.wol import local_interfaces

from .harness import WinePython


def test_the_windows_agent_reports_the_machines_interfaces_and_can_broadcast(wine: WinePython) -> None:
    got = wine.run("netif_probe.py")
    assert got.get("error") is None, got.get("traceback")
    assert got["sent"] == 2  # ports 9 and 7
    linux = {(i.mac, i.address, i.prefix, i.broadcast) for i in local_interfaces()}
    windows = {(i["mac"], i["address"], i["prefix"], i["broadcast"]) for i in got["interfaces"]}
    assert windows and windows <= linux, (windows, linux)
