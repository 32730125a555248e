"""How this platform lists the PC's network interfaces for Wake-on-LAN: GetAdaptersAddresses on
Windows (no psutil there), psutil elsewhere (`jiseki.wol.local_interfaces`)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from jiseki.protocol.control import NetInterface
from jiseki.wol import local_interfaces


def network_interfaces_for(platform: str = sys.platform) -> Callable[[], list[NetInterface]]:
    if platform == "win32":
        from .win32.netif import adapter_interfaces

        return adapter_interfaces
    return local_interfaces
