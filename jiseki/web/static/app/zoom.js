// The viewer's zoom control and edge panning (DOM). The geometry is core/zoom.js; the choice is
// kept per terminal on the gateway (POST /api/terminal/view), never in the browser.

import { ZOOMS, edgePan } from '../core/zoom.js';

export class ZoomControl {
  /**
   * select: the <select> of zoom steps; stage: the scrolling element; initial: the terminal's saved
   * zoom; csrfToken: for the API; onChange(): lay the picture out again; onPanned(): the picture
   * moved under the pointer (send the pointer again).
   */
  constructor({ select, stage, initial, csrfToken, onChange, onPanned }) {
    this.select = select;
    this.stage = stage;
    this.csrfToken = csrfToken;
    this.onPanned = onPanned;
    this.value = ZOOMS.includes(initial) ? initial : 'fit';
    this.select.value = this.value;
    this.scrolls = false;
    this.pointer = null; // last { x, y } over the picture
    this.frame = 0;
    this.stats = { pans: 0, saved: 0 };
    select.addEventListener('change', () => {
      this.value = select.value;
      onChange();
      this.save();
    });
  }

  async save() {
    try {
      const response = await fetch('/api/terminal/view', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.csrfToken },
        body: JSON.stringify({ zoom: this.value }),
        cache: 'no-store',
      });
      if (response.ok) this.stats.saved++;
    } catch {
      // not saved: the choice still holds for this page
    }
  }

  /** After a layout: whether the stage scrolls now (the picture is larger than the window). */
  setScrolls(scrolls) {
    this.scrolls = scrolls;
    this.stage.classList.toggle('scrolls', scrolls);
    if (!scrolls) this.stop();
  }

  /** A pointer event over the picture: pan while it is near an edge of a scrolling stage. */
  observe(e) {
    this.pointer = { x: e.clientX, y: e.clientY };
    if (this.scrolls && !this.frame) this.step();
  }

  leave() {
    this.pointer = null;
    this.stop();
  }

  stop() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  step() {
    this.frame = 0;
    if (!this.pointer || !this.scrolls) return;
    const s = this.stage;
    const r = s.getBoundingClientRect();
    const viewport = { left: r.left, top: r.top, width: s.clientWidth, height: s.clientHeight };
    const room = {
      left: s.scrollLeft,
      right: s.scrollWidth - s.clientWidth - s.scrollLeft,
      up: s.scrollTop,
      down: s.scrollHeight - s.clientHeight - s.scrollTop,
    };
    const { dx, dy } = edgePan(this.pointer.x, this.pointer.y, viewport, room);
    if (!dx && !dy) return;
    s.scrollBy(dx, dy);
    this.stats.pans++;
    this.onPanned();
    this.frame = requestAnimationFrame(() => this.step());
  }
}
