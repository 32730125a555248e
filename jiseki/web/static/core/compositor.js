// Shows the framebuffer (what the office PC sent) in the visible canvas, with the watermark drawn
// into the same pixels: removing an element or a style cannot remove it. Only changed areas are
// recomposed; the whole picture once a minute, when the watermark's time changes.

const TILE_W = 420;
const TILE_H = 220;
const ALPHA = 0.16;

export class Compositor {
  constructor(screen, framebuffer, label) {
    this.screen = screen;
    this.framebuffer = framebuffer;
    this.label = label; // () => current watermark text
    this.ctx = screen.getContext('2d', { alpha: false });
    this.pattern = null;
    this.text = '';
  }

  resize(width, height) {
    this.screen.width = width;
    this.screen.height = height;
    this.refreshPattern();
  }

  refreshPattern() {
    const text = this.label();
    if (text === this.text && this.pattern) return false;
    this.text = text;
    const tile = document.createElement('canvas');
    tile.width = TILE_W;
    tile.height = TILE_H;
    const t = tile.getContext('2d');
    t.translate(TILE_W / 2, TILE_H / 2);
    t.rotate(-Math.PI / 12);
    t.font = '16px "Noto Sans CJK JP", "Yu Gothic UI", Meiryo, sans-serif';
    t.textAlign = 'center';
    t.textBaseline = 'middle';
    // Dark text with a light edge stays visible on dark and on light screens alike.
    t.lineWidth = 3;
    t.strokeStyle = `rgba(255,255,255,${ALPHA})`;
    t.strokeText(text, 0, 0);
    t.fillStyle = `rgba(0,0,0,${ALPHA + 0.04})`;
    t.fillText(text, 0, 0);
    this.pattern = this.ctx.createPattern(tile, 'repeat');
    return true;
  }

  /** Copy `rect` of the framebuffer to the screen and put the watermark over it. */
  present(rect) {
    const { x, y, w, h } = rect;
    if (w <= 0 || h <= 0) return;
    const ctx = this.ctx;
    ctx.drawImage(this.framebuffer, x, y, w, h, x, y, w, h);
    ctx.fillStyle = this.pattern;
    ctx.fillRect(x, y, w, h);
  }

  presentAll() {
    this.present({ x: 0, y: 0, w: this.screen.width, h: this.screen.height });
  }

  /** Call every few seconds: recomposes everything when the watermark's text changed. */
  tick() {
    if (this.refreshPattern()) this.presentAll();
  }
}

/** The rectangle an update touched (its union), in desktop pixels. */
export function updateBounds(update) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const op of update.ops) {
    if (op.op === 'VIDEO_END') continue; // draws nothing
    const x = op.op === 'COPY' ? op.dx : op.x;
    const y = op.op === 'COPY' ? op.dy : op.y;
    x0 = Math.min(x0, x); y0 = Math.min(y0, y);
    x1 = Math.max(x1, x + op.w); y1 = Math.max(y1, y + op.h);
  }
  return x0 === Infinity ? { x: 0, y: 0, w: 0, h: 0 } : { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** "2026-11-27 09:30" in Japan time, whatever the terminal's time zone. */
export function japanTime(date = new Date()) {
  const parts = new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).format(date);
  return parts.replace('T', ' ');
}
