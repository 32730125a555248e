// Keyboard and mouse capture: the DOM wiring. What events mean is decided by pure modules
// (keyboard.js, textinput.js, wheel.js); this file only listens, asks them and sends.
//
// Keyboard modes: 'physical' (default) sends physical keys, so the office PC's own layout and IME
// apply; 'text' lets this terminal's IME compose in a hidden text field and sends what it commits.

import { ALTGR_WINDOW_MS, EscapeHold, KeyMapper, LockSync, ctrlAltDel } from './keyboard.js';
import { cleanText, committedByInput, textMessages, textModeAction } from './textinput.js';
import { WheelMapper } from './wheel.js';
import { hostPoint } from './view.js';

const BUTTON_BITS = [[1, 0x01], [4, 0x02], [2, 0x04], [8, 0x08], [16, 0x10]]; // DOM buttons -> protocol

function protocolButtons(domButtons) {
  let mask = 0;
  for (const [dom, bit] of BUTTON_BITS) if (domButtons & dom) mask |= bit;
  return mask;
}

export class InputCapture {
  /**
   * canvas: the screen; textField: the hidden <textarea> of text mode; usages: Map DOM code -> usage;
   * send(msg): sends one protocol message; options: { windows, mac, onEscapeHold, ignoreTarget(el),
   * onTextRemoved(codePoints) }: the last is told what text mode left out of committed text.
   */
  constructor(canvas, textField, usages, send, options = {}) {
    this.canvas = canvas;
    this.textField = textField;
    this.usages = usages;
    this.send = send;
    this.options = options;
    this.mapper = new KeyMapper(usages, { windows: Boolean(options.windows) });
    this.locks = new LockSync({ mac: Boolean(options.mac) });
    this.escape = new EscapeHold();
    this.wheelMapper = new WheelMapper();
    this.mode = 'physical';
    this.enabled = false;
    this.region = null; // { x, y, w, h }: the part of the desktop on screen (one monitor, or all)
    this.timer = null;
    this.lastPointer = null; // { clientX, clientY, buttons } of the last pointer event
    this.stats = { keys: 0, texts: 0, locks: 0, removed: 0, wheel: this.wheelMapper.sent };
    this.listeners = [];
    this.on(window, 'keydown', (e) => this.keydown(e));
    this.on(window, 'keyup', (e) => this.keyup(e));
    this.on(window, 'blur', () => { this.releaseAll(); this.locks.reset(); });
    this.on(window, 'focus', () => this.locks.reset());
    this.on(document, 'visibilitychange', () => { if (document.hidden) this.releaseAll(); });
    this.on(window, 'pagehide', () => this.releaseAll());
    this.on(textField, 'compositionend', (e) => this.commit(e.data ?? ''));
    this.on(textField, 'input', (e) => this.input(e));
    this.on(canvas, 'pointermove', (e) => this.pointer(e));
    this.on(canvas, 'pointerdown', (e) => { canvas.setPointerCapture(e.pointerId); this.focus(e); this.pointer(e); });
    this.on(canvas, 'pointerup', (e) => {
      this.pointer(e);
      // The browser may have moved the focus to the canvas after pointerdown: text mode wants it back.
      if (this.mode === 'text' && document.activeElement !== this.textField) this.focus(e);
    });
    this.on(canvas, 'wheel', (e) => this.wheel(e), { passive: false });
    this.on(canvas, 'contextmenu', (e) => e.preventDefault());
  }

  on(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.listeners.push([target, type, fn, options]);
  }

  out(messages) {
    if (!this.enabled) return;
    for (const msg of messages) {
      if (msg.type === 'KEY') this.stats.keys++;
      else if (msg.type === 'TEXT') this.stats.texts++;
      else if (msg.type === 'LOCKS') this.stats.locks++;
      this.send(msg);
    }
  }

  syncLocks(e, isKeyEvent) {
    const msg = this.locks.observe(e, isKeyEvent);
    if (msg) this.out([msg]);
  }

  /** Put the keyboard focus where the current mode listens; in text mode, at the pointer (IME window). */
  focus(e) {
    if (this.mode === 'text') {
      if (e) {
        const stage = this.textField.offsetParent?.getBoundingClientRect() ?? { left: 0, top: 0 };
        this.textField.style.left = `${e.clientX - stage.left}px`;
        this.textField.style.top = `${e.clientY - stage.top}px`;
      }
      this.textField.focus({ preventScroll: true });
    } else {
      this.canvas.focus({ preventScroll: true });
    }
  }

  keydown(e) {
    if (!this.enabled || this.options.ignoreTarget?.(e.target)) return;
    this.syncLocks(e, true);
    if (this.escape.observe(e, true)) this.options.onEscapeHold?.();
    if (this.mode === 'text') {
      const action = textModeAction(e);
      if (action === 'ime') return; // this terminal's IME is at work
      if (action === 'text') {
        if (document.activeElement !== this.textField) this.textField.focus({ preventScroll: true });
        return; // the character arrives through the text field as TEXT
      }
    }
    const { messages, handled } = this.mapper.keydown(e);
    if (handled) e.preventDefault();
    this.out(messages);
    if (this.mapper.waiting) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.out(this.mapper.timer(performance.now())), ALTGR_WINDOW_MS + 5);
    }
  }

  keyup(e) {
    if (!this.enabled) return;
    this.escape.observe(e, false);
    const { messages, handled } = this.mapper.keyup(e);
    if (handled && messages.length) e.preventDefault();
    this.out(messages);
  }

  sendText(text) {
    if (!text || !this.enabled) return;
    const { removed } = cleanText(text);
    if (removed.length) {
      this.stats.removed += removed.length;
      this.options.onTextRemoved?.(removed);
    }
    this.out(textMessages(text));
  }

  commit(text) {
    this.sendText(text);
    this.textField.value = '';
  }

  input(e) {
    if (e.isComposing) return;
    this.sendText(committedByInput(e));
    this.textField.value = '';
  }

  /** Release on the host every key we pressed (window blur, tab hidden, mode change, disconnect). */
  releaseAll() {
    clearTimeout(this.timer);
    this.out(this.mapper.releaseAll());
  }

  sendCtrlAltDel() {
    this.releaseAll();
    this.out(ctrlAltDel(this.usages));
  }

  position(e) {
    // Where the browser really shows the canvas (its scale, scroll and rounding included).
    const rect = this.canvas.getBoundingClientRect();
    const r = this.region ?? { x: 0, y: 0, w: this.canvas.width, h: this.canvas.height };
    const sx = rect.width / this.canvas.width;
    const sy = rect.height / this.canvas.height;
    const shown = { left: rect.left + r.x * sx, top: rect.top + r.y * sy, width: r.w * sx, height: r.h * sy };
    return hostPoint(e.clientX, e.clientY, shown, r, window.devicePixelRatio || 1);
  }

  pointer(e) {
    if (!this.enabled) return;
    e.preventDefault();
    this.syncLocks(e, false);
    this.lastPointer = { clientX: e.clientX, clientY: e.clientY, buttons: e.buttons };
    const [x, y] = this.position(e);
    this.out([{ type: 'POINTER', x, y, buttons: protocolButtons(e.buttons) }]);
  }

  /** The picture moved under a still pointer (panning): send where it points now. */
  repoint() {
    if (!this.enabled || !this.lastPointer) return;
    const [x, y] = this.position(this.lastPointer);
    this.out([{ type: 'POINTER', x, y, buttons: protocolButtons(this.lastPointer.buttons) }]);
  }

  wheel(e) {
    if (!this.enabled) return;
    e.preventDefault();
    this.out(this.wheelMapper.add(e));
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.releaseAll();
    this.mode = mode;
    this.textField.value = '';
    this.focus(null);
  }

  setEnabled(enabled) {
    if (!enabled) this.releaseAll();
    this.enabled = enabled;
    if (enabled) this.locks.reset();
  }
}
