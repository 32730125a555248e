"""End to end: the office PC's desktop in a real Chromium, through the real gateway and agent."""

from __future__ import annotations

import base64
import io
import secrets
import string
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jiseki.demo.run import DemoStack

from .conftest import grab_screen, login, needs_desktop, xdotool

pytestmark = [pytest.mark.e2e, needs_desktop]

# Characters typed through the page, as the physical keys of a US/JIS-common layout.
_KEYS = {" ": "Space", ">": "Shift+Period", "/": "Slash", ".": "Period", "_": "Shift+Minus"}
_KEYS.update({c: f"Key{c.upper()}" for c in string.ascii_lowercase})
_KEYS.update({d: f"Digit{d}" for d in string.digits})


def open_viewer(context, stack: DemoStack, width: int = 1920, height: int = 1200):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(stack.viewer_url)
    wait_for(page, "window.jisekiStats && window.jisekiStats.state === 'connected'")
    wait_for(page, "window.jisekiStats.framesDrawn > 0")
    return page


def wait_for(page, expression: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Poll from Python: the page's CSP forbids the eval that page.wait_for_function needs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {expression}; stats: {page.evaluate('window.jisekiStats')}")


def canvas_pixels(page, expression: str = "window.jisekiFramebuffer") -> np.ndarray:  # type: ignore[no-untyped-def]
    """The pixels of a canvas: by default what the office PC sent (before the watermark)."""
    data_url = page.evaluate(f"({expression}).toDataURL('image/png')")
    png = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def wait_until_rest(page, quiet: float = 1.0, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Until no update has been drawn for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last = page.evaluate("window.jisekiStats.framesDrawn")
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = page.evaluate("window.jisekiStats.framesDrawn")
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError("the screen did not come to rest")


def page_point(page, x: int, y: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The page coordinates of desktop pixel (x, y), whatever the canvas's scale."""
    box = page.evaluate(
        "(() => { const c = document.getElementById('screen'); const r = c.getBoundingClientRect();"
        " return [r.left, r.top, r.width / c.width, r.height / c.height]; })()"
    )
    left, top, sx, sy = box
    return left + (x + 0.5) * sx, top + (y + 0.5) * sy


def type_text(page, text: str) -> None:  # type: ignore[no-untyped-def]
    for ch in text:
        page.keyboard.press(_KEYS[ch])


def test_canvas_matches_host_screen(staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack)
    try:
        wait_until_rest(page)
        seen = canvas_pixels(page)
        host = grab_screen(stack.desktop.display)
        assert seen.shape == host.shape == (1080, 1920, 3)
        diff = np.abs(seen.astype(np.int16) - host.astype(np.int16)).max(axis=2)
        exact = float((diff == 0).mean())
        # Text and UI travel as lossless WebP; only photographic areas may be JPEG (none on this desktop).
        assert exact > 0.999, f"only {exact:.4%} of pixels are exact"
        assert float((diff > 48).mean()) < 0.001
    finally:
        page.close()


def test_typing_in_page_reaches_host_xterm(staff_context, stack: DemoStack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack)
    try:
        name = "jiseki_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
        target = Path("/tmp") / name
        # Click into the terminal window (top left of the desktop) to focus it, then type.
        page.mouse.click(*page_point(page, 300, 300))
        time.sleep(0.3)
        type_text(page, f"echo hello > /tmp/{name}")
        page.keyboard.press("Enter")
        deadline = time.monotonic() + 10
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.exists(), "typing through the page did not create the file on the host"
        assert target.read_text() == "hello\n"
        target.unlink()
    finally:
        page.close()


@pytest.mark.parametrize(("width", "height"), [(1920, 1200), (1280, 800)])
def test_click_moves_host_pointer(staff_context, stack: DemoStack, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack, width, height)
    try:
        target = (700, 760) if width == 1920 else (1234, 345)
        page.mouse.click(*page_point(page, *target))
        deadline = time.monotonic() + 5
        location = ""
        while time.monotonic() < deadline:
            location = xdotool(stack.desktop.display, "getmouselocation")
            fields = dict(part.split(":") for part in location.split()[:2])
            if abs(int(fields["x"]) - target[0]) <= 1 and abs(int(fields["y"]) - target[1]) <= 1:
                return
            time.sleep(0.1)
        raise AssertionError(f"host pointer at {location!r}, expected {target}")
    finally:
        page.close()


def test_viewer_reconnects_by_itself_after_the_agent_drops(staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack)
    try:
        frames = page.evaluate("window.jisekiStats.framesDrawn")
        sessions = page.evaluate("window.jisekiStats.sessions")
        agent = next(p for name, p in stack.group.procs if name == "agent")
        agent.terminate()  # a stopped agent closes its session cleanly: it ends at once, no resume wait
        agent.wait(10)
        wait_for(page, "window.jisekiStats.state === 'reconnecting'", timeout=15)
        assert page.evaluate("window.jisekiStats.endReason") in ("host_disconnected", "host_offline")
        text = page.inner_text("#state")
        assert "自席PC" in text and "再接続" in text  # shown in words, in Japanese
        stack.group.procs = [(n, p) for n, p in stack.group.procs if p is not agent]
        stack.start_agent()
        wait_for(page, "window.jisekiStats.state === 'connected'", timeout=60)
        assert page.evaluate("window.jisekiStats.sessions") > sessions  # a new session
        wait_for(page, f"window.jisekiStats.framesDrawn > {frames}", timeout=30)
    finally:
        page.close()


def test_watermark_is_drawn_into_the_visible_canvas(staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack)
    try:
        wait_until_rest(page)
        sent = canvas_pixels(page).astype(np.int16)
        shown = canvas_pixels(page, "document.getElementById('screen')").astype(np.int16)
        marked = np.abs(shown - sent).max(axis=2) > 8
        assert 0.005 < marked.mean() < 0.2, f"{marked.mean():.4f} of the pixels carry the watermark"
        # Tiled: every 420x220 tile of the screen carries some of it.
        tiles = [
            marked[y : y + 220, x : x + 420].any() for y in range(0, 1080 - 220, 220) for x in range(0, 1920 - 420, 420)
        ]
        assert all(tiles)
        # Hiding elements with CSS does not take it off: the mark is in the canvas pixels themselves.
        page.evaluate("document.querySelectorAll('body *:not(canvas)').forEach(e => { e.style.display = 'none'; })")
        again = canvas_pixels(page, "document.getElementById('screen')").astype(np.int16)
        assert np.array_equal(again, shown)
    finally:
        page.close()


def test_viewer_page_stores_nothing(staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack)
    try:
        stored = page.evaluate(
            """async () => ({
                local: localStorage.length,
                session: sessionStorage.length,
                idb: (await indexedDB.databases()).length,
                workers: (await navigator.serviceWorker.getRegistrations()).length,
                caches: (await caches.keys()).length,
            })"""
        )
        assert stored == {"local": 0, "session": 0, "idb": 0, "workers": 0, "caches": 0}
        for path in ("/view/demo-pc", "/static/app/viewer.js", "/static/core/protocol.js", "/api/hosts/demo-pc/access"):
            response = page.request.get(stack.base_url + path)
            assert response.headers["cache-control"] == "no-store", path
        # Only the page code may be kept, under addresses that change with it (no screen data in it).
        scripts = page.evaluate(
            "[...document.querySelectorAll('script[src], link[rel=modulepreload]')].map(e => e.src || e.href)"
        )
        assert any(u.endswith("/app/viewer.js") for u in scripts) and any(
            u.endswith("/core/protocol.js") for u in scripts
        )
        for url in scripts:
            assert "/static/v/" in url, url
            response = page.request.get(url)
            assert response.ok and "immutable" in response.headers["cache-control"], url
        old = page.request.get(stack.base_url + "/static/v/0000000000000000/app/viewer.js")
        assert old.status == 404  # another release's address: not served as this one
        # No right-click menu on the picture ("save image as" is not offered).
        assert page.evaluate(
            "!document.getElementById('screen').dispatchEvent(new MouseEvent('contextmenu', {cancelable: true}))"
        )
    finally:
        page.close()


def test_a_broken_link_resumes_the_same_session(browser, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    """The terminal reaches the gateway through a link we can cut (a TLS-passthrough TCP proxy)."""
    from tests.netproxy import NetProxy

    proxy = NetProxy("127.0.0.1", stack.port)
    origin = f"https://127.0.0.1:{proxy.port}"
    creds = stack.credentials
    assert creds is not None
    context = browser.new_context(
        ignore_https_errors=True,
        viewport={"width": 1920, "height": 1200},
        client_certificates=[{"origin": origin, "certPath": creds.terminal_cert, "keyPath": creds.terminal_key}],
    )
    try:
        page = context.new_page()
        login(page, stack, base_url=origin)
        page.goto(f"{origin}/view/demo-pc")
        wait_for(page, "window.jisekiStats && window.jisekiStats.framesDrawn > 0")
        wait_until_rest(page)
        sessions = page.evaluate("window.jisekiStats.sessions")
        before = page.evaluate("window.jisekiStats.framesDrawn")
        proxy.cut()  # the mobile network drops...
        wait_for(page, "window.jisekiStats.state === 'resuming'", timeout=20)
        time.sleep(5)
        proxy.restore()  # ...and comes back five seconds later
        wait_for(page, "window.jisekiStats.state === 'connected'", timeout=40)
        assert page.evaluate("window.jisekiStats.sessions") == sessions  # the same session, no new login
        wait_for(page, f"window.jisekiStats.framesDrawn > {before}", timeout=20)  # a full picture again
        wait_until_rest(page)
        seen = canvas_pixels(page)
        host = grab_screen(stack.desktop.display)
        assert float((seen == host).all(axis=2).mean()) > 0.999
    finally:
        context.close()
        proxy.close()
