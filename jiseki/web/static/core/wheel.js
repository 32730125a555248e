// Wheel events -> WHEEL messages in 1/120 notch, with nothing lost or doubled: fractions are kept
// here and the agent turns the sum into whole notches. Pure: node's tests feed fake events.

const NOTCH = 120;
const LINES_PER_NOTCH = 3;
const I16_MAX = 32767;

export class WheelMapper {
  constructor() {
    // Pixels of one notch, until a notched wheel tells us: Chromium on Windows scrolls 100 px.
    this.pxPerNotch = { x: 100, y: 100 };
    this.rest = { x: 0, y: 0 };
    this.sent = { x: 0, y: 0 }; // totals, for the statistics
  }

  units(delta, wheelDelta, mode, axis) {
    if (mode === 1) return (delta * NOTCH) / LINES_PER_NOTCH; // DOM_DELTA_LINE
    if (mode === 2) return delta * NOTCH; // DOM_DELTA_PAGE
    // DOM_DELTA_PIXEL. A notched mouse wheel reports exactly one notch (wheelDelta ±120) per event:
    // learn how many pixels the browser makes of a notch on this terminal (platform, zoom, DPI).
    if (Math.abs(wheelDelta) === NOTCH && Math.abs(delta) >= 20) this.pxPerNotch[axis] = Math.abs(delta);
    return (delta * NOTCH) / this.pxPerNotch[axis];
  }

  /** WHEEL messages for one wheel event (usually one; several for a huge delta). */
  add(ev) {
    const wheelDeltaX = typeof ev.wheelDeltaX === 'number' ? ev.wheelDeltaX : 0; // Chromium/WebKit only
    const wheelDeltaY = typeof ev.wheelDeltaY === 'number' ? ev.wheelDeltaY : 0;
    const total = {
      x: this.rest.x + this.units(ev.deltaX, wheelDeltaX, ev.deltaMode, 'x'),
      y: this.rest.y + this.units(ev.deltaY, wheelDeltaY, ev.deltaMode, 'y'),
    };
    const send = { x: Math.trunc(total.x), y: Math.trunc(total.y) };
    this.rest = { x: total.x - send.x, y: total.y - send.y };
    const messages = [];
    while (send.x !== 0 || send.y !== 0) {
      const dx = Math.max(-I16_MAX, Math.min(I16_MAX, send.x));
      const dy = Math.max(-I16_MAX, Math.min(I16_MAX, send.y));
      messages.push({ type: 'WHEEL', dx, dy });
      send.x -= dx;
      send.y -= dy;
      this.sent.x += dx;
      this.sent.y += dy;
    }
    return messages;
  }
}
