"""Use the product as a newcomer would, from a venv holding only its runtime dependencies.

Run by scripts/check-runtime-install.sh with that venv's Python. Starts `jiseki demo` (virtual
desktop, gateway, agent) on a free port, then, as the demo terminal over HTTPS: logs the demo staff
member in, finds the demo PC online in My PCs, opens a session and waits for the first screen
update over the viewer's WebSocket. Before that, every module of the installed package must import.
Any failure prints what went wrong (and what the demo printed) and exits 1.

Uses only the standard library and the product's own dependencies (aiohttp, jiseki).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

from jiseki.gateway.auth.totp import code_at
from jiseki.protocol import PROTOCOL_VERSION, Hello, Update, decode_from_agent, encode

START_SECONDS = 120  # a cold machine: first start creates the CA, the database and the desktop
SESSION_SECONDS = 60


class SmokeFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    """`jiseki demo` as a child process whose output is kept, to show it when something fails."""

    def __init__(self, work: Path, port: int) -> None:
        self.lines: list[str] = []
        # The working directory is outside the source tree: `-m jiseki` must find the installed package.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jiseki", "demo", "--data-dir", str(work / "demo"), "--port", str(port)],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, *needles: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = "".join(self.lines)
            if all(n in text for n in needles):
                return
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise SmokeFailed(f"jiseki demo exited with status {self.proc.returncode} before printing {needles}")
            time.sleep(0.2)
        raise SmokeFailed(f"jiseki demo did not print {needles} within {timeout:.0f} s")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(5)
        return code


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(page: str, where: str) -> str:
    match = _CSRF.search(page)
    if not match:
        raise SmokeFailed(f"no CSRF token in {where}")
    return match.group(1)


async def use_as_staff(base: str, demo_dir: Path) -> str:
    creds = json.loads((demo_dir / "credentials.json").read_text("utf-8"))
    tls = ssl.create_default_context(cafile=str(demo_dir / "gateway" / "pki" / "root-ca.crt"))
    tls.load_cert_chain(creds["terminal_cert"], creds["terminal_key"])
    origin = {"Origin": base}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/login", ssl=tls) as r:
            if r.status != 200:
                raise SmokeFailed(f"GET /login: HTTP {r.status}")
            token = _csrf(await r.text(), "the login page")
        form = {
            "csrf_token": token,
            "login_id": creds["login_id"],
            "password": creds["password"],
            "code": code_at(creds["totp_secret"], time.time()),
        }
        async with http.post(f"{base}/login", data=form, ssl=tls, headers=origin, allow_redirects=False) as r:
            if r.status != 303:
                raise SmokeFailed(f"POST /login: HTTP {r.status} (expected 303 to My PCs)")
        async with http.get(f"{base}/", ssl=tls) as r:
            page = await r.text()
        if 'data-host="demo-pc" data-state="online"' not in page:
            raise SmokeFailed("My PCs does not show the demo PC online")
        headers = {**origin, "X-CSRF-Token": _csrf(page, "My PCs")}
        async with http.post(f"{base}/api/sessions", json={"host_id": "demo-pc"}, ssl=tls, headers=headers) as r:
            if r.status != 201:
                raise SmokeFailed(f"POST /api/sessions: HTTP {r.status} {await r.text()}")
            created = await r.json()
        url = f"{base}/sessions/{created['session']}/viewer?ticket={created['ticket']}"
        async with http.ws_connect(url, headers=origin, ssl=tls) as ws:
            await ws.send_bytes(encode(Hello(PROTOCOL_VERSION)))
            async with asyncio.timeout(SESSION_SECONDS):
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        raise SmokeFailed(f"the viewer socket ended ({msg.type.name}) before a screen update")
                    decoded = decode_from_agent(msg.data)
                    if isinstance(decoded, Update) and decoded.ops:
                        return f"first screen update: {len(decoded.ops)} op(s), {len(msg.data)} bytes"
        raise SmokeFailed("the viewer socket closed before a screen update")


def import_every_module() -> list[str]:
    """Import each module of the installed package: parts the demo does not run (reports, syslog...)
    must find their dependencies too. Returns the failures."""
    import jiseki

    root = Path(jiseki.__file__).parent
    failures = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name.endswith("__main__") or ".migrations" in name:  # the command itself; Alembic's scripts
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    return failures


def main() -> int:
    failures = import_every_module()
    if failures:
        print("RUNTIME CHECK FAILED: modules that do not import:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="jiseki-runtime-") as tmp:
        work = Path(tmp)
        port = free_port()
        demo = Demo(work, port)
        try:
            demo.wait_for("Ctrl+C", "agent demo-pc online", timeout=START_SECONDS)
            result = asyncio.run(use_as_staff(f"https://127.0.0.1:{port}", work / "demo"))
        except (SmokeFailed, OSError, aiohttp.ClientError, TimeoutError) as exc:
            demo.stop()
            sys.stdout.write("".join(demo.lines))
            print(f"\nRUNTIME CHECK FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        code = demo.stop()
        if code != 0:
            sys.stdout.write("".join(demo.lines))
            print(f"\nRUNTIME CHECK FAILED: jiseki demo exited with status {code} on Ctrl+C", file=sys.stderr)
            return 1
        print(f"runtime check: jiseki demo served the login page, My PCs and a session ({result})")
        return 0


if __name__ == "__main__":
    sys.exit(main())
