// Keyboard and mouse capture: physical keys by KeyboardEvent.code (mapped to USB HID usages),
// pointer position in desktop pixels, wheel in 1/120 notch. Sends protocol messages via `send`.

const BUTTON_BITS = [[1, 0x01], [4, 0x02], [2, 0x04], [8, 0x08], [16, 0x10]]; // DOM buttons -> protocol
const WHEEL_NOTCH = 120;
const PIXELS_PER_NOTCH = 100; // Chromium on Windows reports 100 px per wheel notch
const LINES_PER_NOTCH = 3;

function protocolButtons(domButtons) {
  let mask = 0;
  for (const [dom, bit] of BUTTON_BITS) if (domButtons & dom) mask |= bit;
  return mask;
}

function clampI16(v) {
  return Math.max(-32768, Math.min(32767, Math.round(v)));
}

export class InputCapture {
  constructor(canvas, usages, send) {
    this.canvas = canvas;
    this.usages = usages; // Map: DOM code -> usage
    this.send = send;
    this.held = new Set(); // usages pressed and not yet released
    this.enabled = false;
    this.listeners = [];
    this.on(window, 'keydown', (e) => this.key(e, true));
    this.on(window, 'keyup', (e) => this.key(e, false));
    this.on(window, 'blur', () => this.releaseAll());
    this.on(document, 'visibilitychange', () => { if (document.hidden) this.releaseAll(); });
    this.on(canvas, 'pointermove', (e) => this.pointer(e));
    this.on(canvas, 'pointerdown', (e) => { canvas.focus(); canvas.setPointerCapture(e.pointerId); this.pointer(e); });
    this.on(canvas, 'pointerup', (e) => this.pointer(e));
    this.on(canvas, 'wheel', (e) => this.wheel(e), { passive: false });
    this.on(canvas, 'contextmenu', (e) => e.preventDefault());
  }

  on(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.listeners.push([target, type, fn, options]);
  }

  key(e, down) {
    if (!this.enabled) return;
    const usage = this.usages.get(e.code);
    if (usage === undefined) return;
    e.preventDefault();
    if (down) this.held.add(usage);
    else if (!this.held.delete(usage)) return;
    this.send({ type: 'KEY', usage, down });
  }

  /** Release on the host every key we pressed (window blur, tab hidden, disconnect). */
  releaseAll() {
    if (this.enabled) for (const usage of this.held) this.send({ type: 'KEY', usage, down: false });
    this.held.clear();
  }

  position(e) {
    const rect = this.canvas.getBoundingClientRect();
    const x = Math.floor(((e.clientX - rect.left) * this.canvas.width) / rect.width);
    const y = Math.floor(((e.clientY - rect.top) * this.canvas.height) / rect.height);
    return [Math.max(0, Math.min(this.canvas.width - 1, x)), Math.max(0, Math.min(this.canvas.height - 1, y))];
  }

  pointer(e) {
    if (!this.enabled) return;
    e.preventDefault();
    const [x, y] = this.position(e);
    this.send({ type: 'POINTER', x, y, buttons: protocolButtons(e.buttons) });
  }

  wheel(e) {
    if (!this.enabled) return;
    e.preventDefault();
    let scale = (WHEEL_NOTCH / PIXELS_PER_NOTCH);
    if (e.deltaMode === WheelEvent.DOM_DELTA_LINE) scale = WHEEL_NOTCH / LINES_PER_NOTCH;
    else if (e.deltaMode === WheelEvent.DOM_DELTA_PAGE) scale = WHEEL_NOTCH * 3;
    this.send({ type: 'WHEEL', dx: clampI16(e.deltaX * scale), dy: clampI16(e.deltaY * scale) });
  }

  setEnabled(enabled) {
    if (!enabled) this.releaseAll();
    this.enabled = enabled;
  }
}
