"""The stacks the display benchmark compares, each seen in headless Chromium through a `Link`.

`bench_jiseki`: a demo stack (agent + gateway), the viewer logged in as the demo staff member, the
terminal's certificate held by Chromium itself (NSS + managed policy, `bench/terminal_browser.py`)
when `TERMINAL_POLICY` is set, else through Playwright's options. `bench_novnc`: a VNC server +
websockify + noVNC (`bench_x11vnc` on the benchmark desktop; `start_tigervnc` starts an Xvnc desktop
with the same workload). A `Link` is straight (`direct`) or through the link emulator
`bench/shaper.py` with a profile, and carries the phase lengths.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
from playwright.sync_api import Browser, BrowserContext, Page

from jiseki.demo.processes import ProcessGroup
from jiseki.demo.run import DemoStack, wait_for_port
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

from . import terminal_browser
from .page_probe import INSTRUMENT, NOVNC_PAGE, first_pictures, new_page
from .phases import Lengths, StackResult, Viewer, run_phases
from .shaper import Profile, Shaper
from .workload import Workload

NOVNC = Path("/usr/share/novnc")
XVNC = ["Xvnc", "-geometry", "1920x1080", "-depth", "24", "-localhost", "-SecurityTypes", "None", "-AlwaysShared"]
XVNC += ["-nolisten", "tcp", "-noreset"]

# The terminal's certificate held by Chromium itself (NSS + managed policy) rather than through
# Playwright's TLS proxy; set by display_bench.main() when the policy could be written.
TERMINAL_POLICY = False


def login(page: Page, stack: DemoStack, base: str) -> None:
    """The demo staff member's login (each stack has fresh credentials, so any current code works)."""
    from jiseki.gateway.auth.totp import code_at

    creds = stack.credentials
    assert creds is not None
    page.goto(base + "/login")
    page.fill("#login_id", creds.login_id)
    page.fill("#password", creds.password)
    page.fill("#code", code_at(creds.totp_secret, time.time()))
    page.click("button[type=submit]")
    page.wait_for_url(base + "/", timeout=60_000)


@dataclass(frozen=True)
class Link:
    """How the browser reaches a stack: straight (`direct`, no proxy) or through the link emulator."""

    profile: Profile | None
    lengths: Lengths

    @property
    def name(self) -> str:
        return self.profile.name if self.profile else "direct"

    @property
    def effective(self) -> Profile | None:
        # Scheduled drops would land in random phases: the drop phase makes its own stall.
        return None if self.profile is None else replace(self.profile, drop_every=0.0, drop_seconds=0.0)

    def shaper(self, port: int) -> Shaper | None:
        return None if self.effective is None else Shaper("127.0.0.1", port, self.effective)


def _terminal_context(
    browser: Browser, stack: DemoStack, base: str, workdir: Path
) -> tuple[BrowserContext, Browser | None]:
    """A context whose Chromium presents the terminal's certificate as a terminal does (NSS and the
    managed policy, `bench/terminal_browser.py`), else through Playwright's options."""
    creds = stack.credentials
    assert creds is not None
    viewport = {"width": 1920, "height": 1200}
    if TERMINAL_POLICY and terminal_browser.tools_present():
        root = stack.data_dir / "gateway" / "pki" / "root-ca.crt"
        home = terminal_browser.nss_home(workdir, Path(creds.terminal_cert), Path(creds.terminal_key), root)
        own = browser.browser_type.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, env={**os.environ, "HOME": str(home)}
        )
        return own.new_context(viewport=viewport), own  # type: ignore[arg-type]
    context = browser.new_context(
        ignore_https_errors=True,
        viewport=viewport,  # type: ignore[arg-type]
        client_certificates=[{"origin": base, "certPath": creds.terminal_cert, "keyPath": creds.terminal_key}],
    )
    return context, None


def bench_jiseki(browser: Browser, workload: Workload, workdir: Path, link: Link) -> StackResult:
    stack = DemoStack(workdir / f"jiseki-{time.monotonic_ns()}", free_port(), quiet=True, desktop=workload.desktop)
    stack.start()
    shaper = link.shaper(stack.port)
    own: Browser | None = None
    try:
        # Through the emulator the page's origin is the proxy's (its port): the client certificate
        # is offered there; cookies, the origin check and `wss://${location.host}` follow the page.
        # The gateway's certificate names 127.0.0.1 whatever the port.
        base = stack.base_url if shaper is None else f"https://127.0.0.1:{shaper.port}"
        context, own = _terminal_context(browser, stack, base, workdir / f"terminal-{time.monotonic_ns()}")
        context.add_init_script(INSTRUMENT)
        page = context.new_page()
        login(page, stack, base)  # not counted
        first = first_pictures(page, f"{base}/view/{stack.viewer_url.rsplit('/', 1)[1]}", f"{base}/")
        server = [psutil.Process(p.pid) for name, p in stack.group.procs if name in ("agent", "gateway")]
        viewer = Viewer(
            page,
            "[window.jisekiStats.framesDrawn, window.__wsBytes]",
            "document.getElementById('screen')",
            server,
            workload.desktop.display,
            # The policy's watermark is drawn over the shown canvas: compare what the PC sent.
            "window.jisekiFramebuffer",
            session_js="window.jisekiStats.sessions",
            reconnects_js="window.jisekiStats.resumes || 0",
            shaper=shaper,
        )
        result = run_phases(viewer, workload, "jiseki", link.lengths)
        result.notes.update(first)
        result.notes["terminal certificate through NSS"] = 1.0 if own is not None else 0.0
        context.close()
        return result
    finally:
        if own is not None:
            own.close()
        if shaper is not None:
            shaper.close()
        stack.stop()


def novnc_web(workdir: Path, ws_port: int) -> Path:
    web = workdir / f"novnc-web-{ws_port}"
    web.mkdir()
    for sub in ("core", "vendor"):
        (web / sub).symlink_to(NOVNC / sub)
    (web / "bench.html").write_text(NOVNC_PAGE.replace("%WSPORT%", str(ws_port)), "utf-8")
    return web


def bench_novnc(
    browser: Browser,
    workload: Workload,
    workdir: Path,
    name: str,
    server_argv: list[str],
    rfb_port: int,
    link: Link,
) -> StackResult:
    """A VNC server (already listening on rfb_port, or started from server_argv) + websockify + noVNC."""
    group = ProcessGroup()
    ws_port = free_port()
    web = novnc_web(workdir, ws_port)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    shaper = link.shaper(ws_port)
    try:
        if server_argv:
            group.start(name.split()[0], server_argv, **quiet)
        group.start("websockify", ["websockify", "--web", str(web), str(ws_port), f"127.0.0.1:{rfb_port}"], **quiet)
        wait_for_port("127.0.0.1", ws_port, 10.0)
        context, page = new_page(browser)
        origin = f"http://127.0.0.1:{ws_port if shaper is None else shaper.port}"
        first = first_pictures(page, f"{origin}/bench.html", "about:blank")
        # websockify serves each connection from a forked child: count the children too.
        server = [psutil.Process(p.pid) for _name, p in group.procs]
        server += [c for proc in list(server) for c in proc.children(recursive=True)]
        server += workload.extra_server
        viewer = Viewer(
            page,
            "[window.benchFrames, window.__wsBytes]",
            "document.querySelector('#screen canvas')",
            server,
            workload.desktop.display,
            session_js="window.benchDisconnects",  # this page does not reconnect: a disconnect ends it
            reconnects_js="window.benchDisconnects",
            shaper=shaper,
        )
        result = run_phases(viewer, workload, name, link.lengths)
        result.notes.update(first)
        context.close()
        return result
    finally:
        if shaper is not None:
            shaper.close()
        group.stop_all()


def bench_x11vnc(browser: Browser, workload: Workload, workdir: Path, link: Link) -> StackResult:
    rfb_port = free_port()
    argv = ["x11vnc", "-display", workload.desktop.display, "-rfbport", str(rfb_port), "-localhost", "-forever"]
    argv += ["-shared", "-nopw", "-quiet"]
    return bench_novnc(browser, workload, workdir, "x11vnc + noVNC", argv, rfb_port, link)


def start_tigervnc(group: ProcessGroup, workdir: Path, scroll_seconds: float) -> tuple[Workload, int]:
    """An Xvnc desktop (TigerVNC's X server with the VNC encoder inside) with the same workload."""
    from jiseki.demo.desktop import VirtualDesktop

    rfb_port = free_port()
    read_fd, write_fd = os.pipe()
    proc = group.start(
        "Xvnc",
        [*XVNC, "-displayfd", str(write_fd), "-rfbport", str(rfb_port)],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        number = fh.readline().strip()
    desktop = VirtualDesktop(group)
    desktop.display = f":{int(number)}"
    group.start("openbox", ["openbox"], env=desktop.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    workload = Workload(desktop, group, workdir)
    workload.start(scroll_seconds)
    workload.extra_server = [psutil.Process(proc.pid)]
    return workload, rfb_port
