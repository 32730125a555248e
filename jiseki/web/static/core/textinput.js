// Text keyboard mode, pure parts: which key events stay KEYs, and how committed text becomes TEXT.
// The terminal's own IME composes in a hidden text field; only what it commits is sent.

import { MAX_TEXT_BYTES } from './protocol.js';
import { NO_KEYUP_KEYS } from './keyboard.js';

const IME_PROCESS_KEYCODE = 229;
// Keys that drive the terminal's IME: in text mode they belong to this terminal, not the office PC.
const IME_KEYS = new Set([...NO_KEYUP_KEYS, 'Convert', 'NonConvert', 'Eisu', 'KanaMode', 'Process']);

/**
 * What a keydown means in text mode:
 * 'ime'  - the terminal's IME is composing or the key drives it: leave it alone;
 * 'text' - it types a character: let the text field take it (it arrives as TEXT);
 * 'key'  - Enter, Backspace, arrows, function keys, shortcuts: send the physical key.
 */
export function textModeAction(ev) {
  if (ev.isComposing || ev.keyCode === IME_PROCESS_KEYCODE || IME_KEYS.has(ev.key)) return 'ime';
  const altGraph = typeof ev.getModifierState === 'function' && ev.getModifierState('AltGraph');
  if (ev.metaKey || ((ev.ctrlKey || ev.altKey) && !altGraph)) return 'key'; // shortcuts
  if (ev.key === 'Dead') return 'text'; // the browser composes accents like an IME
  if ([...ev.key].length === 1) return 'text';
  return 'key';
}

/** Text with the characters the agent refuses to type removed (controls: those travel as KEYs). */
export function typeableText(text) {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) continue;
    out += ch;
  }
  return out;
}

const encoder = new TextEncoder();

/** Split text into TEXT messages of at most MAX_TEXT_BYTES of UTF-8, never inside a character. */
export function textMessages(text) {
  const messages = [];
  let chunk = '';
  let bytes = 0;
  for (const ch of typeableText(text)) {
    const n = encoder.encode(ch).length;
    if (bytes + n > MAX_TEXT_BYTES) {
      messages.push({ type: 'TEXT', text: chunk });
      chunk = '';
      bytes = 0;
    }
    chunk += ch;
    bytes += n;
  }
  if (chunk) messages.push({ type: 'TEXT', text: chunk });
  return messages;
}

/**
 * The text to send for an `input` event of the hidden field, or '' for none: compositions are
 * sent once, at compositionend; paste is not keyboard input (clipboard sharing is a policy).
 */
export function committedByInput(ev) {
  if (ev.isComposing) return '';
  if (ev.inputType === 'insertText' || ev.inputType === 'insertReplacementText') return ev.data ?? '';
  return '';
}
