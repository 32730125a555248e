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

// What the agent refuses to type (jiseki/agent/input/text.py; the two agree on
// tests/vectors/text_filter.json): control characters (commands travel as KEYs), lone surrogates,
// non-characters, and the bidirectional embedding/override/isolate controls that reorder what is
// shown ("Trojan Source"). The viewer leaves them out and types the rest, and says what it left out
// (issue 12 item 24: a text with a right-to-left override used to vanish without a word).
function refused(cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) // C0, DEL, C1
    || (cp >= 0xd800 && cp <= 0xdfff) // a surrogate not in a pair
    || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe // non-characters
    || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069); // bidi controls
}

/** `{ text, removed }`: the text without the characters the agent refuses, and their code points. */
export function cleanText(text) {
  let out = '';
  const removed = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    if (refused(cp)) removed.push(cp);
    else out += ch;
  }
  return { text: out, removed };
}

/** Text with the characters the agent refuses to type removed. */
export function typeableText(text) {
  return cleanText(text).text;
}

/** "U+202E" for a code point, as the notice names what was left out. */
export function codePointName(cp) {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
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
