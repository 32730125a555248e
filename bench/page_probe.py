"""What the display benchmark puts into each viewer page, and the readers of what it records there.

`INSTRUMENT` goes into every page before its own code (`new_page`, or `add_init_script` on a context):
bytes received on every WebSocket (and, for jiseki, by message type), keydown and frame times, the
time of the first full picture. `NOVNC_PAGE` is the noVNC viewer page served by websockify, with its
frames counted at `Display.flip()`. The readers take the page: `first_picture(s)`, `key_latencies`,
`page_clock`; `OPS_JS` reads jiseki's operations drawn.
"""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

SCREEN = (1920, 1080)

# Counts bytes received on every WebSocket of the page, and records keydown and frame times,
# the same way for every viewer. The first full picture: after each frame until then, the canvas
# holding the remote picture (`__fullCanvas()`) is read back; full = the screen's size and no pixel
# left transparent (a canvas starts transparent, every remote pixel drawn is opaque). For jiseki the
# hook goes in as the page assigns `window.jisekiStats` (`onFrame`, called after each UPDATE drawn).
INSTRUMENT = """
(() => {
  window.__wsBytes = 0;
  window.__wsByType = {};
  window.__keyTimes = [];
  window.__frameTimes = [];
  window.__firstFull = null;
  window.__fullCanvas = () => window.jisekiFramebuffer;
  window.__frame = (t) => { window.__frameTimes.push(t ?? performance.now()); };
  window.__checkFull = () => {
    if (window.__firstFull !== null) return;
    const t = performance.now(); // before the read-back: its own cost is not the viewer's
    const c = window.__fullCanvas();
    if (!c || c.width !== %W% || c.height !== %H%) return;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return;
    window.__firstFull = t;
  };
  let stats;
  Object.defineProperty(window, 'jisekiStats', {
    configurable: true,
    get: () => stats,
    set: (v) => { stats = v; v.onFrame = (t) => { window.__frame(t); window.__checkFull(); }; },
  });
  window.addEventListener('keydown', () => window.__keyTimes.push(performance.now()), true);
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      const d = e.data;
      const n = d.byteLength ?? d.size ?? d.length ?? 0;
      window.__wsBytes += n;
      if (d instanceof ArrayBuffer && n > 0) {  // bytes by first byte (jiseki: the message type)
        const k = new Uint8Array(d, 0, 1)[0];
        window.__wsByType[k] = (window.__wsByType[k] ?? 0) + n;
      }
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
""".replace("%W%", str(SCREEN[0])).replace("%H%", str(SCREEN[1]))

# Navigation start (performance.now() = 0) to the first full picture, and the page's load event.
FIRST_JS = "[window.__firstFull, performance.getEntriesByType('navigation')[0]?.loadEventEnd ?? null]"

NOVNC_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>bench</title>
<style>body{margin:0}#screen{width:100vw;height:100vh}</style></head>
<body><div id="screen"></div>
<script type="module">
import RFB from './core/rfb.js';
window.benchFrames = 0;
window.benchDisconnects = 0;
// The page's own host: through the link emulator when there is one.
const rfb = new RFB(document.getElementById('screen'), `ws://${location.host}/websockify`, {});
rfb.scaleViewport = true;
window.__fullCanvas = () => document.querySelector('#screen canvas');
const flip = rfb._display.flip.bind(rfb._display);
rfb._display.flip = (...a) => {
  window.benchFrames++; window.__frame(); const r = flip(...a); window.__checkFull(); return r;
};
rfb.addEventListener('connect', () => { window.benchConnected = true; });
rfb.addEventListener('disconnect', () => { window.benchDisconnects++; });
</script></body></html>
"""


# jiseki: operations drawn by kind and codec, and bytes received by message type (first byte).
OPS_JS = (
    "window.jisekiStats ? {...window.jisekiStats.ops, ...Object.fromEntries(Object.entries(window.__wsByType)"
    ".map(([k, v]) => ['bytes_type_0x' + Number(k).toString(16), v]))} : {}"
)


def page_clock(page: Page) -> float:
    """The page's performance.now() minus time.monotonic(), in ms (CDP, not through the link)."""
    t0 = time.monotonic()
    now = float(page.evaluate("performance.now()"))
    t1 = time.monotonic()
    return now - (t0 + t1) / 2 * 1000


def key_latencies(page: Page, floor_ms: float = 0.0) -> list[float]:
    """Per key, the first frame drawn in [keydown + floor, next keydown + floor): `floor` is the
    shortest round trip the link allows (no echo can come sooner), so a late echo of the previous
    key is not taken for this one's."""
    keys = page.evaluate("window.__keyTimes")
    frames = sorted(page.evaluate("window.__frameTimes"))
    out = []
    for i, k in enumerate(keys):
        limit = (keys[i + 1] if i + 1 < len(keys) else k + 1000) + floor_ms
        after = [f for f in frames if k + floor_ms <= f < limit]
        if after:
            out.append(after[0] - k)
    return out


def first_picture(page: Page, label: str = "first full picture") -> dict[str, float | None]:
    wait_until(page, "window.__firstFull !== null", timeout=30.0)
    full, load = page.evaluate(FIRST_JS)
    return {
        f"{label} s": None if full is None else full / 1000,
        f"{label} after load event s": None if full is None or not load else (full - load) / 1000,
    }


def first_pictures(page: Page, url: str, away: str) -> dict[str, float | None]:
    """The first full picture of a fresh load of `url`, then of a second visit (the way back
    through `away`): what may be cached (page code, never screen data) is then."""
    page.goto(url, timeout=60_000)
    first = first_picture(page)
    page.goto(away, timeout=60_000)
    time.sleep(1.0)
    page.goto(url, timeout=60_000)
    first.update(first_picture(page, "first full picture, second visit"))
    return first


def new_page(browser: Browser, **kwargs: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1200}, **kwargs)
    context.add_init_script(INSTRUMENT)
    return context, context.new_page()


def wait_until(page: Page, expression: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not page.evaluate(expression):
        time.sleep(0.1)
