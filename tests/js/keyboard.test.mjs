// The viewer's keyboard, wheel, view and layout logic with fake events (node --test).
// The key table is jiseki/protocol/keycodes.json, the file the Python side uses too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import { KeyMapper, LockSync, EscapeHold, ctrlAltDel, physicalCode, NO_KEYUP_KEYS } from '../../jiseki/web/static/core/keyboard.js';
import { textModeAction, textMessages, committedByInput, typeableText, cleanText } from '../../jiseki/web/static/core/textinput.js';
import { WheelMapper } from '../../jiseki/web/static/core/wheel.js';
import { fitView, monitorRegions } from '../../jiseki/web/static/core/view.js';
import { layoutDifferences } from '../../jiseki/web/static/core/layout.js';
import { Lock, encode, decode } from '../../jiseki/web/static/core/protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const table = JSON.parse(readFileSync(join(root, 'jiseki', 'protocol', 'keycodes.json'), 'utf-8'));
const usages = new Map(Object.entries(table.codes).map(([code, id]) => [code, (table.page << 16) | id]));
const codeOfUsageId = new Map(Object.entries(table.codes).map(([code, id]) => [id, code]));
const jis = JSON.parse(readFileSync(join(root, 'tests', 'vectors', 'keyboard_jis109.json'), 'utf-8')).keys;
const quirks = JSON.parse(readFileSync(join(root, 'tests', 'vectors', 'keyboard_quirks.json'), 'utf-8')).sequences;
const textFilter = JSON.parse(readFileSync(join(root, 'tests', 'vectors', 'text_filter.json'), 'utf-8')).cases;

const event = (fields) => ({ code: '', key: '', keyCode: 0, timeStamp: 0, repeat: false, ...fields });
const asPairs = (messages) => messages.map((m) => {
  assert.equal(m.type, 'KEY');
  return [codeOfUsageId.get(m.usage & 0xffff), m.down];
});

function run(mapper, events) {
  const out = [];
  for (const e of events) {
    if (e.type === 'keydown') out.push(...mapper.keydown(event(e)).messages);
    else if (e.type === 'keyup') out.push(...mapper.keyup(event(e)).messages);
    else if (e.type === 'timer') out.push(...mapper.timer(e.timeStamp));
  }
  return out;
}

test('the JIS fixture has the 109 keys, each with a usage in the shared table', () => {
  assert.equal(jis.length, 109);
  for (const k of jis) assert.ok(usages.has(k.code), k.code);
});

for (const k of jis) {
  test(`JIS key ${k.label} (${k.code}) is one press and one release of its physical key`, () => {
    for (const windows of [true, false]) {
      const mapper = new KeyMapper(usages, { windows });
      const down = event({ code: k.code, key: k.key, keyCode: k.keyCode, location: k.location, timeStamp: 1000 });
      const up = { ...down, timeStamp: 1100 };
      const first = mapper.keydown(down);
      assert.equal(first.handled, true);
      const messages = [...first.messages, ...mapper.keyup(up).messages];
      assert.deepEqual(messages, [
        { type: 'KEY', usage: usages.get(k.code), down: true },
        { type: 'KEY', usage: usages.get(k.code), down: false },
      ]);
      // Every message is valid on the wire.
      for (const m of messages) assert.deepEqual(decode(encode(m)), m);
      assert.deepEqual(mapper.releaseAll(), []);
    }
  });
}

for (const seq of quirks) {
  test(`quirk: ${seq.name}`, () => {
    const mapper = new KeyMapper(usages, { windows: seq.windows });
    assert.deepEqual(asPairs(run(mapper, seq.events)), seq.messages);
  });
}

test('keyCode 229 is never turned into a key, even through the Windows virtual-key fallback', () => {
  assert.equal(physicalCode(event({ code: '', key: 'Process', keyCode: 229 })), null);
  assert.equal(physicalCode(event({ code: '', key: 'Unidentified', keyCode: 243 })), 'Backquote');
  assert.equal(physicalCode(event({ code: 'KeyA', key: 'Process', keyCode: 229 })), 'KeyA');
  assert.equal(physicalCode(event({ code: '', key: 'toString', keyCode: 0 })), null); // own keys only
});

test('unknown codes are left to the browser', () => {
  const mapper = new KeyMapper(usages);
  const result = mapper.keydown(event({ code: 'BrowserBack', key: 'BrowserBack' }));
  assert.equal(result.handled, false);
  assert.deepEqual(result.messages, []);
});

test('releaseAll releases held keys in reverse order, and forgets a held-back ControlLeft', () => {
  const mapper = new KeyMapper(usages, { windows: true });
  run(mapper, [
    { type: 'keydown', code: 'ShiftLeft', key: 'Shift', timeStamp: 1 },
    { type: 'keydown', code: 'KeyA', key: 'A', timeStamp: 2 },
    { type: 'keydown', code: 'ControlLeft', key: 'Control', timeStamp: 3 },
  ]);
  assert.equal(mapper.waiting, true);
  assert.deepEqual(asPairs(mapper.releaseAll()), [['KeyA', false], ['ShiftLeft', false]]);
  assert.equal(mapper.waiting, false);
  assert.deepEqual(mapper.releaseAll(), []);
});

test('Ctrl+Alt+Del is three presses then three releases', () => {
  assert.deepEqual(asPairs(ctrlAltDel(usages)), [
    ['ControlLeft', true], ['AltLeft', true], ['Delete', true],
    ['Delete', false], ['AltLeft', false], ['ControlLeft', false],
  ]);
});

test('the no-keyup set covers every alternating Japanese IM key value', () => {
  for (const k of ['Zenkaku', 'Hankaku', 'Alphanumeric', 'Katakana', 'Hiragana', 'Romaji', 'KanaMode']) {
    assert.ok(NO_KEYUP_KEYS.has(k), k);
  }
});

// ---- lock states -----------------------------------------------------------------------

const withLocks = (fields, locks) => ({ ...event(fields), getModifierState: (name) => Boolean(locks[name]) });

test('lock states are sent with the first event, then only when they change', () => {
  const sync = new LockSync();
  const a = withLocks({ code: 'KeyA' }, { CapsLock: true, NumLock: true });
  assert.deepEqual(sync.observe(a, true), { type: 'LOCKS', known: Lock.CAPS | Lock.NUM | Lock.SCROLL, state: Lock.CAPS | Lock.NUM });
  assert.equal(sync.observe(a, true), null);
  // The lock key's own event is ambiguous: skipped.
  assert.equal(sync.observe(withLocks({ code: 'CapsLock' }, {}), true), null);
  assert.deepEqual(sync.observe(withLocks({ code: 'KeyB' }, { NumLock: true }), true).state, Lock.NUM);
  sync.reset(); // focus regained
  assert.deepEqual(sync.observe(withLocks({}, { NumLock: true }), false).state, Lock.NUM);
  assert.equal(sync.observe(withLocks({}, { NumLock: true }), false), null);
});

test('lock states: macOS has no Num Lock, and Kana lock is never claimed', () => {
  const sync = new LockSync({ mac: true });
  const msg = sync.observe(withLocks({ code: 'KeyA' }, { CapsLock: true, NumLock: false }), true);
  assert.equal(msg.known & Lock.NUM, 0);
  assert.equal(msg.known & Lock.KANA, 0);
  assert.deepEqual(decode(encode(msg)), msg);
});

test('holding Escape 1.5 s (autorepeat) asks to leave full screen; a tap does not', () => {
  const hold = new EscapeHold();
  assert.equal(hold.observe(event({ code: 'Escape', timeStamp: 0 }), true), false);
  assert.equal(hold.observe(event({ code: 'Escape', timeStamp: 0 }), false), false);
  assert.equal(hold.observe(event({ code: 'Escape', timeStamp: 5000 }), true), false);
  let exit = false;
  for (let t = 5500; t <= 6600 && !exit; t += 33) exit = hold.observe(event({ code: 'Escape', timeStamp: t, repeat: true }), true);
  assert.equal(exit, true);
});

// ---- text mode -------------------------------------------------------------------------

test('text mode: characters go to the text field, commands stay keys, the IME keeps its keys', () => {
  const mods = (fields) => ({ ...event(fields), getModifierState: (n) => n === 'AltGraph' && Boolean(fields.altGraph) });
  assert.equal(textModeAction(mods({ code: 'KeyA', key: 'a', keyCode: 65 })), 'text');
  assert.equal(textModeAction(mods({ code: 'IntlRo', key: '_', keyCode: 226 })), 'text');
  assert.equal(textModeAction(mods({ code: 'KeyA', key: 'Process', keyCode: 229 })), 'ime');
  assert.equal(textModeAction(mods({ code: 'Enter', key: 'Enter', keyCode: 13, isComposing: true })), 'ime');
  assert.equal(textModeAction(mods({ code: 'Backquote', key: 'Zenkaku', keyCode: 243 })), 'ime');
  assert.equal(textModeAction(mods({ code: 'Convert', key: 'Convert', keyCode: 28 })), 'ime');
  assert.equal(textModeAction(mods({ code: 'Enter', key: 'Enter', keyCode: 13 })), 'key');
  assert.equal(textModeAction(mods({ code: 'Backspace', key: 'Backspace', keyCode: 8 })), 'key');
  assert.equal(textModeAction(mods({ code: 'ShiftLeft', key: 'Shift', keyCode: 16 })), 'key');
  assert.equal(textModeAction(mods({ code: 'KeyC', key: 'c', keyCode: 67, ctrlKey: true })), 'key');
  assert.equal(textModeAction(mods({ code: 'KeyQ', key: '@', keyCode: 81, ctrlKey: true, altKey: true, altGraph: true })), 'text');
});

test('text mode: committed text becomes TEXT messages of at most 1024 bytes, never split inside a character', () => {
  const text = '日本語の入力テスト、ｶﾀｶﾅ、①';
  assert.deepEqual(textMessages(text), [{ type: 'TEXT', text }]);
  const long = '𠮷'.repeat(300) + 'a'; // 4 bytes each: 1201 bytes
  const messages = textMessages(long);
  assert.equal(messages.map((m) => m.text).join(''), long);
  for (const m of messages) {
    const bytes = encode(m);
    assert.ok(bytes.length - 3 <= 1024);
    assert.deepEqual(decode(bytes), m);
  }
  assert.deepEqual(textMessages('\r\n\t\x1b'), []);
  assert.equal(typeableText('a\nb\u0085c'), 'abc');
});

test('text mode: characters the agent refuses are left out and named, the rest is sent (issue 12 item 24)', () => {
  for (const c of textFilter) {
    assert.deepEqual(cleanText(c.input), { text: c.typed, removed: c.removed }, JSON.stringify(c.input));
    assert.equal(textMessages(c.input).map((m) => m.text).join(''), c.typed);
    assert.equal(typeableText(c.input), c.typed);
  }
});

test('text mode: compositions are sent at compositionend only, paste never', () => {
  assert.equal(committedByInput({ inputType: 'insertCompositionText', data: 'にほんご', isComposing: true }), '');
  assert.equal(committedByInput({ inputType: 'insertText', data: 'ｶﾀｶﾅ', isComposing: false }), 'ｶﾀｶﾅ');
  assert.equal(committedByInput({ inputType: 'insertFromPaste', data: 'secret', isComposing: false }), '');
});

// ---- wheel -----------------------------------------------------------------------------

const wheel = (deltaY, { mode = 0, wheelDeltaY = undefined, deltaX = 0 } = {}) =>
  ({ deltaX, deltaY, deltaMode: mode, wheelDeltaX: 0, ...(wheelDeltaY === undefined ? {} : { wheelDeltaY }) });

test('wheel: a notched wheel is one notch per event whatever pixels the browser makes of it', () => {
  for (const px of [100, 53, 125, 150]) {
    const w = new WheelMapper();
    const out = [];
    for (let i = 0; i < 10; i++) out.push(...w.add(wheel(px, { wheelDeltaY: -120 })));
    assert.equal(out.reduce((s, m) => s + m.dy, 0), 1200, `${px} px per notch`);
  }
});

test('wheel: line and page modes', () => {
  const w = new WheelMapper();
  assert.deepEqual(w.add(wheel(3, { mode: 1 })), [{ type: 'WHEEL', dx: 0, dy: 120 }]);
  assert.deepEqual(w.add(wheel(-1, { mode: 2 })), [{ type: 'WHEEL', dx: 0, dy: -120 }]);
});

test('wheel: fine touchpad deltas add up exactly, nothing lost or doubled', () => {
  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const w = new WheelMapper();
  let expected = 0;
  let sent = 0;
  for (let i = 0; i < 5000; i++) {
    const d = (rand() - 0.3) * 7; // mostly down, some up, fractional pixels
    expected += (d * 120) / 100;
    for (const m of w.add(wheel(d))) sent += m.dy;
  }
  assert.ok(Math.abs(sent - expected) < 1, `${sent} vs ${expected}`);
  assert.equal(w.sent.y, sent);
});

test('wheel: a huge delta is split into valid messages', () => {
  const w = new WheelMapper();
  const out = w.add(wheel(100000, { mode: 1 }));
  assert.equal(out.reduce((s, m) => s + m.dy, 0), 4000000);
  for (const m of out) assert.deepEqual(decode(encode(m)), m);
});

// ---- view ------------------------------------------------------------------------------

test('view: 1:1 device pixels at devicePixelRatio 1, 1.25, 1.5 and 2 when the window is large enough', () => {
  const picture = { width: 1920, height: 1080 };
  const region = { x: 0, y: 0, w: 1920, h: 1080 };
  for (const dpr of [1, 1.25, 1.5, 2]) {
    const stage = { left: 0, top: 33.6, width: 1920 / dpr + 7, height: 1080 / dpr + 3 };
    const v = fitView(stage, dpr, picture, region);
    assert.equal(v.crisp, true);
    assert.ok(Math.abs(v.canvas.width * dpr - 1920) < 1e-9);
    const absLeft = (stage.left + v.box.left) * dpr;
    const absTop = (stage.top + v.box.top) * dpr;
    assert.ok(Math.abs(absLeft - Math.round(absLeft)) < 1e-6, `left ${absLeft} at ${dpr}`);
    assert.ok(Math.abs(absTop - Math.round(absTop)) < 1e-6, `top ${absTop} at ${dpr}`);
  }
});

test('view: scaled down smoothly, keeping the aspect ratio, when the window is small', () => {
  const v = fitView({ left: 0, top: 0, width: 1280, height: 800 }, 1.25, { width: 1920, height: 1080 }, { x: 0, y: 0, w: 1920, h: 1080 });
  assert.equal(v.crisp, false);
  assert.ok(v.box.width <= 1280 && v.box.height <= 800);
  assert.ok(Math.abs(v.box.width / v.box.height - 1920 / 1080) < 1e-9);
});

test('view: one monitor of two is shown alone, with its own coordinates', () => {
  const desktop = { width: 2560, height: 1024, monitors: [{ x: -1280, y: 0, w: 1280, h: 1024 }, { x: 0, y: 0, w: 1280, h: 1024 }] };
  const regions = monitorRegions(desktop);
  assert.deepEqual(regions, [{ x: 0, y: 0, w: 1280, h: 1024 }, { x: 1280, y: 0, w: 1280, h: 1024 }]);
  const v = fitView({ left: 0, top: 0, width: 1400, height: 1100 }, 1, { width: 2560, height: 1024 }, regions[1]);
  assert.equal(v.crisp, true);
  assert.equal(v.box.width, 1280);
  assert.equal(v.canvas.left, -1280);
  assert.equal(v.canvas.width, 2560);
});

// ---- layout mismatch ---------------------------------------------------------------------

const jisHost = {
  type: 'KEYBOARD_LAYOUT',
  name: 'jp106/jp',
  keys: [[0x04, 'a'], [0x2e, '^'], [0x2f, '@'], [0x30, '['], [0x34, ':'], [0x87, '\\'], [0x89, '\\']]
    .map(([id, ch]) => ({ usage_id: id, codepoint: ch.codePointAt(0) })),
};

test('layout: a US terminal on a JIS host differs (and says where)', () => {
  const us = new Map([['KeyA', 'a'], ['Equal', '='], ['BracketLeft', '['], ['BracketRight', ']'], ['Quote', "'"]]);
  const diff = layoutDifferences(us, jisHost, codeOfUsageId);
  assert.deepEqual(diff.map((d) => d.code), ['Equal', 'BracketLeft', 'BracketRight', 'Quote']);
});

test('layout: a JIS terminal on a JIS host does not differ; ¥ and \\ are the same key', () => {
  const jp = new Map([['KeyA', 'a'], ['Equal', '^'], ['BracketLeft', '@'], ['BracketRight', '['], ['Quote', ':'], ['IntlRo', '\\'], ['IntlYen', '¥']]);
  assert.deepEqual(layoutDifferences(jp, jisHost, codeOfUsageId), []);
  assert.deepEqual(layoutDifferences(new Map(), jisHost, codeOfUsageId), []);
});
