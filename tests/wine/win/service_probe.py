"""Run as a real Windows service by tests/wine/test_service_wine.py (sc.exe create/start): the
service's Win32 bindings as the service uses them, from session 0 under the Service Control Manager.

argv: <jiseki source folder> <result file> <scratch folder>. Writes what it observed to the result
file (services have no usable stdout), then waits for the SCM's stop."""

from __future__ import annotations

import json
import sys
import threading
import traceback

sys.path.insert(0, sys.argv[1])
RESULT, SCRATCH = sys.argv[2], sys.argv[3]
CHILD = r"""
import ctypes, json, sys
sys.path.insert(0, sys.argv[1])
from jiseki.agent.win32.desktop import Win32Desktops
line = sys.stdin.buffer.readline()
opened = Win32Desktops().open_input()
user32 = ctypes.WinDLL("user32")
out = {"read": line.decode().strip(), "desktop": opened[1] if opened else None,
       "screen": [user32.GetSystemMetrics(0), user32.GetSystemMetrics(1)]}
sys.stdout.buffer.write((json.dumps(out) + "\n").encode())
sys.stdout.flush()
"""


def observe() -> dict[str, object]:
    import ctypes
    import logging
    import os

    from jiseki.agent.win32 import acl, service, sessions
    from jiseki.agent.win32.desktop import Win32Desktops
    from jiseki.agent.win32.eventlog import EventLogHandler

    seen: dict[str, object] = {}
    seen["state"] = service.query_service("jiseki-probe")
    seen["missing"] = service.query_service("jiseki-no-such-service")
    service.configure_recovery("jiseki-probe")
    seen["failure_actions_size"] = ctypes.sizeof(service.SERVICE_FAILURE_ACTIONSW)
    try:
        seen["restart_delays"] = service.restart_delays("jiseki-probe")
    except OSError as exc:
        seen["restart_delays"] = f"error {exc.errno}"
    seen["service_desktop"] = (Win32Desktops().open_input() or (0, None))[1]
    seen["console"] = sessions.active_console_session()
    child = os.path.join(SCRATCH, "child.py")
    with open(child, "w", encoding="utf-8") as fh:
        fh.write(CHILD)
    worker = sessions.start_in_session(seen["console"] or 1, [sys.executable, child, sys.argv[1]])  # type: ignore[list-item]
    worker.stdin.write(b'{"op":"stop","why":"ended"}\n')
    seen["child"] = json.loads(worker.stdout.readline(65536))
    seen["child_exit"] = worker.wait(20)
    worker.close()
    handler = EventLogHandler()
    logger = logging.getLogger("probe")
    logger.addHandler(handler)
    logger.warning("jiseki service probe: 警告の例")
    logger.error("jiseki service probe: an error")
    seen["events_written"] = handler.written
    handler.close()
    secret = os.path.join(SCRATCH, "secret")
    os.makedirs(secret, exist_ok=True)
    with open(os.path.join(secret, "agent.key"), "w") as fh:
        fh.write("k")
    acl.restrict_to_admins(secret)
    seen["dacl"] = acl.dacl_sddl(secret)
    seen["dacl_file"] = acl.dacl_sddl(os.path.join(secret, "agent.key"))
    return seen


def main() -> None:
    from jiseki.agent.win32 import service

    stop = threading.Event()
    changes: list[tuple[int, int]] = []

    def body() -> None:
        try:
            result = observe()
        except BaseException as exc:
            result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        with open(RESULT, "w", encoding="utf-8") as fh:
            json.dump(result, fh)
        stop.wait(60)

    service.ServiceHost("jiseki-probe", body, stop.set, lambda e, s: changes.append((e, s))).run()


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:
        with open(RESULT, "w", encoding="utf-8") as fh:
            json.dump({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}, fh)
