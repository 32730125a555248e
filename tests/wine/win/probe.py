"""The interpreter itself: a Windows build, the Windows ABI, the agent importable."""

from __future__ import annotations

import ctypes
import platform
import sys

from common import main


def probe() -> dict[str, object]:
    import jiseki.agent.runner  # noqa: F401 - the agent and its dependencies import on Windows
    from jiseki.agent.win32.input import INPUT

    return {
        "platform": sys.platform,
        "system": platform.system(),
        "pointer_bits": ctypes.sizeof(ctypes.c_void_p) * 8,
        "sizeof_input": ctypes.sizeof(INPUT),
        "gateway_loaded": any(m.startswith("jiseki.gateway") for m in sys.modules),
        "sqlalchemy_loaded": "sqlalchemy" in sys.modules,
    }


main(probe)
