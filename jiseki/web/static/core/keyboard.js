// Physical keys: DOM keyboard events -> KEY messages, with the browser quirks handled.
// Pure (no DOM access): the caller passes event-like objects and sends what comes back, so node's
// test runner can feed the fake event sequences in tests/vectors/keyboard_quirks.json.

import { Lock } from './protocol.js';

// Japanese IME keys for which Windows browsers send no keyup: each keydown becomes press+release.
// Their key values alternate for the same physical key (Zenkaku/Hankaku, Hiragana/Katakana/Romaji),
// which does not matter here: the physical key (code) is what is sent.
export const NO_KEYUP_KEYS = new Set([
  'Zenkaku', 'Hankaku', 'ZenkakuHankaku', 'KanjiMode',
  'Alphanumeric', 'Katakana', 'Hiragana', 'HiraganaKatakana', 'Romaji', 'KanaMode',
]);

// Their Windows virtual keys (VK_OEM_AUTO/ENLW, VK_OEM_ATTN, VK_OEM_COPY), for events without a key value.
const NO_KEYUP_WINDOWS_VKS = new Set([243, 244, 240, 242]);

/** True for the keys whose keyup never comes on Windows. */
export function sendsNoKeyup(ev) {
  return NO_KEYUP_KEYS.has(ev.key) || NO_KEYUP_WINDOWS_VKS.has(ev.keyCode);
}

// When `code` is missing (some virtual keyboards), these keys can still be placed.
const CODE_BY_KEY = {
  Zenkaku: 'Backquote', Hankaku: 'Backquote', ZenkakuHankaku: 'Backquote', KanjiMode: 'Backquote',
  Alphanumeric: 'CapsLock', Eisu: 'CapsLock',
  Katakana: 'KanaMode', Hiragana: 'KanaMode', HiraganaKatakana: 'KanaMode', Romaji: 'KanaMode', KanaMode: 'KanaMode',
  Convert: 'Convert', NonConvert: 'NonConvert',
};
// ... and by Windows virtual key. 229 (VK_PROCESSKEY: "the IME has it") is never an identity.
const CODE_BY_WINDOWS_VK = {
  243: 'Backquote', 244: 'Backquote', 25: 'Backquote', // VK_OEM_AUTO / VK_OEM_ENLW alternate; VK_KANJI
  240: 'CapsLock', // VK_OEM_ATTN (英数)
  242: 'KanaMode', 21: 'KanaMode', // VK_OEM_COPY, VK_KANA
  28: 'Convert', 29: 'NonConvert',
};
const IME_PROCESS_KEYCODE = 229;

// Windows sends AltGr as ControlLeft then AltRight at (nearly) the same instant.
export const ALTGR_WINDOW_MS = 50;
export const ESCAPE_HOLD_MS = 1500;

const LOCK_CODES = new Set(['CapsLock', 'NumLock', 'ScrollLock']);

/** The physical key (a DOM code) of an event, or null when it has none we can trust. */
export function physicalCode(ev) {
  if (ev.code && ev.code !== 'Unidentified') return ev.code;
  if (Object.hasOwn(CODE_BY_KEY, ev.key)) return CODE_BY_KEY[ev.key];
  if (ev.keyCode !== IME_PROCESS_KEYCODE && Object.hasOwn(CODE_BY_WINDOWS_VK, ev.keyCode)) {
    return CODE_BY_WINDOWS_VK[ev.keyCode];
  }
  return null;
}

const key = (usage, down) => ({ type: 'KEY', usage, down });

export class KeyMapper {
  /** `usages`: Map DOM code -> HID usage (keycodes.json); `windows`: apply the Windows-only fixes. */
  constructor(usages, { windows = false } = {}) {
    this.usages = usages;
    this.windows = windows;
    this.held = new Map(); // code -> usage, in press order
    this.pendingCtrl = null; // { usage, timeStamp } of a ControlLeft that may be half of an AltGr
  }

  usageOf(ev) {
    const code = physicalCode(ev);
    if (code === null) return [null, undefined];
    return [code, this.usages.get(code)];
  }

  press(code, usage, out) {
    this.held.set(code, usage);
    out.push(key(usage, true));
  }

  release(code, out) {
    const usage = this.held.get(code);
    if (usage === undefined) return; // never release what was not pressed
    this.held.delete(code);
    out.push(key(usage, false));
  }

  /** Send a ControlLeft that was held back to see whether it was half of an AltGr. */
  flushCtrl(out) {
    if (this.pendingCtrl === null) return;
    const { usage } = this.pendingCtrl;
    this.pendingCtrl = null;
    this.press('ControlLeft', usage, out);
  }

  /** A keydown: returns { messages, handled } (handled: the event belongs to the office PC). */
  keydown(ev) {
    const out = [];
    const [code, usage] = this.usageOf(ev);
    if (usage === undefined) return { messages: out, handled: false };
    if (this.pendingCtrl !== null) {
      const altGr = code === 'AltRight' && ev.timeStamp - this.pendingCtrl.timeStamp < ALTGR_WINDOW_MS;
      if (altGr) this.pendingCtrl = null; // the Ctrl was Windows' own, not the user's
      else this.flushCtrl(out);
    }
    if (sendsNoKeyup(ev)) {
      // No keyup will come on Windows: press and release now (also elsewhere: harmless there).
      this.held.delete(code);
      out.push(key(usage, true), key(usage, false));
      return { messages: out, handled: true };
    }
    if (this.windows && code === 'ControlLeft' && !this.held.has(code)) {
      this.pendingCtrl = { usage, timeStamp: ev.timeStamp };
      return { messages: out, handled: true };
    }
    // A keydown of a held key is an autorepeat: forwarded, the host repeats nothing by itself.
    this.press(code, usage, out);
    return { messages: out, handled: true };
  }

  keyup(ev) {
    const out = [];
    const [code, usage] = this.usageOf(ev);
    if (usage === undefined) return { messages: out, handled: false };
    this.flushCtrl(out); // any keyup ends the AltGr window (a lone Ctrl tap, or Ctrl+key)
    if (sendsNoKeyup(ev) && !this.held.has(code)) return { messages: out, handled: true };
    this.release(code, out);
    if (this.windows && (code === 'ShiftLeft' || code === 'ShiftRight')) {
      // Windows reports only one keyup when both Shift keys are let go.
      this.release(code === 'ShiftLeft' ? 'ShiftRight' : 'ShiftLeft', out);
    }
    return { messages: out, handled: true };
  }

  /** The AltGr window has passed (called from a timer). */
  timer(timeStamp) {
    const out = [];
    if (this.pendingCtrl !== null && timeStamp - this.pendingCtrl.timeStamp >= ALTGR_WINDOW_MS) this.flushCtrl(out);
    return out;
  }

  get waiting() {
    return this.pendingCtrl !== null;
  }

  /** Release every key we pressed (blur, hidden tab, mode change, disconnect). */
  releaseAll() {
    this.pendingCtrl = null; // never pressed on the host: nothing to release
    const out = [];
    for (const code of [...this.held.keys()].reverse()) this.release(code, out);
    return out;
  }
}

/** The six KEY messages of Ctrl+Alt+Del (the Windows agent turns them into the secure attention sequence). */
export function ctrlAltDel(usages) {
  const codes = ['ControlLeft', 'AltLeft', 'Delete'];
  return [
    ...codes.map((c) => key(usages.get(c), true)),
    ...codes.reverse().map((c) => key(usages.get(c), false)),
  ];
}

/**
 * Lock states (Caps, Num, Scroll) of the terminal, sent as LOCKS with the first input event after
 * the session starts or the window regains focus (browsers only tell inside an event), and
 * whenever a later event shows a change. Kana lock cannot be read by a browser: never "known".
 */
export class LockSync {
  constructor({ mac = false } = {}) {
    this.mac = mac; // macOS has no Num Lock: getModifierState('NumLock') says nothing there
    this.needed = true;
    this.last = null;
  }

  reset() {
    this.needed = true;
  }

  /** The LOCKS message to send before this event, or null. */
  observe(ev, isKeyEvent) {
    if (typeof ev.getModifierState !== 'function') return null;
    // On the lock key's own event the reported state is before or after the toggle depending on
    // the platform: wait for the next event.
    if (isKeyEvent && LOCK_CODES.has(ev.code)) return null;
    let known = Lock.CAPS | Lock.SCROLL;
    if (!this.mac) known |= Lock.NUM;
    let state = 0;
    if (ev.getModifierState('CapsLock')) state |= Lock.CAPS;
    if (ev.getModifierState('ScrollLock')) state |= Lock.SCROLL;
    if (!this.mac && ev.getModifierState('NumLock')) state |= Lock.NUM;
    if (!this.needed && this.last === state) return null;
    this.needed = false;
    this.last = state;
    return { type: 'LOCKS', known, state };
  }
}

/** Holding Escape for ESCAPE_HOLD_MS (its autorepeat keeps coming) is the way out of full screen. */
export class EscapeHold {
  constructor() {
    this.since = null;
  }

  /** True when this event completes a hold. */
  observe(ev, down) {
    if (ev.code !== 'Escape') return false;
    if (!down) {
      this.since = null;
      return false;
    }
    if (this.since === null || !ev.repeat) {
      this.since = ev.timeStamp;
      return false;
    }
    if (ev.timeStamp - this.since >= ESCAPE_HOLD_MS) {
      this.since = null;
      return true;
    }
    return false;
  }
}
