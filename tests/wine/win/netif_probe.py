"""The Windows agent's network interfaces (GetAdaptersAddresses by ctypes) and a relayed wake's
socket, under Wine: what `hello` would report and what `send_magic` does."""

from __future__ import annotations

from typing import Any

from common import main


def run() -> dict[str, Any]:
    from jiseki.agent.netif import network_interfaces_for
    from jiseki.protocol.control import NetInterface
    from jiseki.wol import send_magic

    found = network_interfaces_for()()  # GetAdaptersAddresses on Windows
    assert all(isinstance(i, NetInterface) for i in found)
    sent = send_magic(["52:54:00:12:34:56"], "127.255.255.255")
    return {"interfaces": [i.as_dict() for i in found], "sent": sent}


main(run)
