// The viewer's connection object (core/connection.js) driven with a fake socket and clock
// (node --test): what it asks for, what it sends, the ordered draw chain with its ACKs, and how it
// carries out the reconnect / resume decisions over time.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Connection, Dispatcher } from '../../jiseki/web/static/core/connection.js';
import { decode, encode } from '../../jiseki/web/static/core/protocol.js';

const FINAL = new Set(['admin', 'hours', 'user', 'idle']);
const GRACE = 60_000;

class FakeClock {
  constructor() { this.t = 1_000_000; this.timers = new Map(); this.nextId = 1; }
  now() { return this.t; }
  setTimeout(fn, ms) { const id = this.nextId++; this.timers.set(id, { at: this.t + ms, fn }); return id; }
  clearTimeout(id) { this.timers.delete(id); }
  /** Run every timer due within `ms`, in time order, as the browser would. */
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
      if (!due.length) break;
      const [id, timer] = due[0];
      this.timers.delete(id);
      this.t = timer.at;
      timer.fn();
      await settle();
    }
    this.t = end;
  }
}

class FakeSocket {
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.closedWith = null; }
  send(bytes) { this.sent.push(decode(bytes)); }
  open() {
    this.readyState = 1;
    this.onopen?.();
    if (this.answer) this.receiveText(JSON.stringify(this.answer)); // the gateway's first word
    this.answer = null;
  }
  receiveText(text) { this.onmessage?.({ data: text }); }
  receive(msg) { const b = encode(msg); this.onmessage?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) }); }
  receiveRaw(bytes) { this.onmessage?.({ data: bytes.buffer }); }
  drop() { this.readyState = 3; this.onclose?.({ code: 1006 }); } // no close frame: the link broke
  close(code, reason) { this.closedWith = [code, reason]; this.drop(); }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A refusal as the gateway words it on a new-session socket (`body`: a string is sent as is). */
function answer(status, body) {
  return { refusal: typeof body === 'string' ? body : JSON.stringify({ status, ...body }) };
}

/**
 * A connection wired to fakes; `answers` are what the gateway says on each new-session socket, in
 * order: a session (sent once the test opens the socket), a refusal (the socket opens, answers and
 * closes), or an Error (the gateway is not reached: the socket closes without opening).
 */
function harness(answers, handlers = {}, extra = {}) {
  const clock = new FakeClock();
  const sockets = [];
  const requests = [];
  const events = [];
  const stats = {};
  const connection = new Connection({
    hostId: 'pc-1', base: 'wss://gw', finalReasons: FINAL, graceMs: GRACE, stats, clock,
    handlers,
    ...extra,
    openSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      if (url.includes('/hosts/')) {
        requests.push(url);
        const next = answers.shift();
        if (next === undefined) throw new Error('no more answers');
        // The page sets its handlers after openSocket returns; the gateway answers after that.
        queueMicrotask(() => {
          if (next instanceof Error) s.drop();
          else if (next.refusal !== undefined) { s.open(); s.receiveText(next.refusal); if (s.readyState !== 3) s.close(1000, ''); }
          else s.answer = next;
        });
      }
      return s;
    },
    on: {
      state: (key, vars) => events.push(vars ? `${key}:${vars.s}` : key),
      ended: (reason, refusal) => events.push(`ended:${reason}:${refusal}`),
      warning: (detail) => events.push(`warning:${detail}`),
      closed: () => events.push('closed'),
      login: () => events.push('login'),
    },
  });
  return { clock, sockets, requests, events, stats, connection, last: () => sockets[sockets.length - 1] };
}

const session = (n) => ({ session: `S${n}`, resume: `R${n}/+` });

test('start: opens a socket that asks for a session for its PC, says HELLO, takes the answer', async () => {
  const h = harness([session(1)]);
  await h.connection.start();
  assert.deepEqual(h.requests, ['wss://gw/hosts/pc-1/session']);
  assert.equal(h.sockets[0].binaryType, 'arraybuffer');
  assert.deepEqual(h.sockets[0].sent, [], 'nothing is sent before the socket opens');
  assert.equal(h.stats.sessions, 0);
  h.sockets[0].open();
  assert.deepEqual(h.sockets[0].sent, [{ type: 'HELLO', version: 1, flags: 0 }]);
  assert.deepEqual(h.connection.current, { session: 'S1', resume: 'R1/+' });
  h.sockets[0].receive({ type: 'STATUS', code: 'WAITING_FOR_HOST', detail: '' });
  h.sockets[0].receive({ type: 'STATUS', code: 'HOST_CONNECTED', detail: '' });
  h.sockets[0].receive({ type: 'STATUS', code: 'WARNING', detail: 'idle:60' });
  assert.deepEqual(h.events, ['connecting', 'waiting', 'connected', 'warning:idle:60']);
  assert.equal(h.stats.sessions, 1);
  assert.ok(h.stats.bytes > 0);
});

test('dispatch: each message type reaches its handler; updates are drawn in order and ACKed after', async () => {
  const seen = [];
  const releases = [];
  const h = harness([session(1)], {
    DESKTOP: (m) => seen.push(`desktop ${m.width}x${m.height}`),
    KEYBOARD_LAYOUT: (m) => seen.push(`layout ${m.name}`),
    CLIPBOARD: (m) => seen.push(`clipboard ${m.text}`),
    CURSOR_SHAPE: (m) => seen.push(`cursor ${m.w}x${m.h}`),
    // The first update takes long to draw: the second must wait for it.
    UPDATE: (m) => new Promise((resolve) => {
      seen.push(`draw ${m.seq} start`);
      releases.push(() => { seen.push(`draw ${m.seq} end`); resolve(); });
    }),
  });
  await h.connection.start();
  const ws = h.sockets[0];
  ws.open();
  ws.receive({ type: 'DESKTOP', width: 64, height: 32, monitors: [{ x: 0, y: 0, w: 64, h: 32 }] });
  ws.receive({ type: 'KEYBOARD_LAYOUT', name: 'jp', keys: [] });
  ws.receive({ type: 'CLIPBOARD', text: 'あ' });
  ws.receive({ type: 'CURSOR_SHAPE', w: 1, h: 1, hot_x: 0, hot_y: 0, rgba: new Uint8Array(4) });
  ws.receive({ type: 'CURSOR_POS', x: 1, y: 1 }); // no handler: ignored
  const fill = { op: 'FILL', x: 0, y: 0, w: 1, h: 1, r: 0, g: 0, b: 0 };
  ws.receive({ type: 'UPDATE', seq: 7, ops: [fill] });
  ws.receive({ type: 'UPDATE', seq: 8, ops: [fill] });
  await settle();
  assert.deepEqual(seen, ['desktop 64x32', 'layout jp', 'clipboard あ', 'cursor 1x1', 'draw 7 start']);
  assert.equal(h.stats.updates, 2);
  const acks = () => ws.sent.filter((m) => m.type === 'ACK').map((m) => m.seq);
  assert.deepEqual(acks(), []);
  releases.shift()();
  await settle();
  assert.deepEqual(acks(), [7]);
  assert.deepEqual(seen.slice(-2), ['draw 7 end', 'draw 8 start']);
  releases.shift()();
  await settle();
  assert.deepEqual(acks(), [7, 8]);
});

test('an invalid message closes the socket as a protocol error', async () => {
  const h = harness([session(1)]);
  await h.connection.start();
  const ws = h.sockets[0];
  ws.open();
  const errors = [];
  const original = console.error;
  console.error = (...a) => errors.push(a);
  try {
    ws.receiveRaw(new Uint8Array([0x7f, 0, 0]));
  } finally {
    console.error = original;
  }
  assert.deepEqual(ws.closedWith, [4002, 'protocol error']);
  assert.equal(errors.length, 1);
});

test('a broken link resumes the same session with its token, and a new one after the grace', async () => {
  const h = harness([session(1), session(2)]);
  await h.connection.start();
  h.sockets[0].open();
  h.sockets[0].receive({ type: 'STATUS', code: 'HOST_CONNECTED', detail: '' });
  h.sockets[0].drop();
  assert.deepEqual(h.events.slice(-2), ['closed', 'resuming']);
  await h.clock.advance(999);
  assert.equal(h.sockets.length, 1, 'the first resume waits 1 s');
  await h.clock.advance(1);
  assert.equal(h.last().url, 'wss://gw/sessions/S1/viewer?resume=R1%2F%2B');
  // The resume opens and the link breaks again: the grace starts anew, 1 s again.
  h.last().open();
  h.last().drop();
  await h.clock.advance(1000);
  assert.equal(h.sockets.length, 3);
  // Now every resume fails to connect: 2, 4, 8, 10, 10 ... s apart while the grace lasts.
  const lostAt = h.clock.now() - 1000;
  const opens = [];
  while (h.requests.length === 1) {
    const before = h.sockets.length;
    h.last().drop();
    while (h.sockets.length === before && h.requests.length === 1) await h.clock.advance(100);
    if (h.requests.length === 1) opens.push((h.clock.now() - lostAt) / 1000);
  }
  assert.deepEqual(opens, [3, 7, 15, 25, 35, 45, 55]);
  assert.equal(h.stats.resumes, 10);
  // At 65 s the resume is due but the grace is over: a new session after 10 s.
  assert.equal(h.clock.now() - lostAt, 75_000);
  assert.ok(h.events.includes('reconnecting:10'), h.events.join(' '));
  assert.equal(h.last().url, 'wss://gw/hosts/pc-1/session');
  await settle();
  h.last().open();
  assert.equal(h.stats.sessions, 2);
  assert.equal(h.connection.current.session, 'S2');
});

test('a final end reason shows the end screen and nothing is retried', async () => {
  const h = harness([session(1)]);
  await h.connection.start();
  h.sockets[0].open();
  h.sockets[0].receive({ type: 'STATUS', code: 'SESSION_ENDED', detail: 'admin' });
  assert.equal(h.stats.endReason, 'admin');
  h.sockets[0].drop();
  assert.deepEqual(h.events.slice(-1), ['ended:admin:null']);
  assert.equal(h.connection.current, null);
  await h.clock.advance(600_000);
  assert.equal(h.requests.length, 1);
  assert.equal(h.sockets.length, 1);
});

test('a non-final end (PC offline) starts a new session after a countdown, with growing delays', async () => {
  const h = harness([session(1), answer(503, { error: 'gateway_shutdown', message: 'x' }), answer(503, { error: 'gateway_shutdown' }), session(4)]);
  await h.connection.start();
  h.sockets[0].open();
  h.sockets[0].receive({ type: 'STATUS', code: 'HOST_OFFLINE', detail: 'host_offline' });
  h.sockets[0].drop();
  assert.deepEqual(h.events.slice(-1), ['reconnecting:1']);
  await h.clock.advance(1000);
  assert.deepEqual(h.events.slice(-4), ['reconnecting:0', 'connecting', 'closed', 'reconnecting:2']);
  assert.equal(h.stats.endReason, 'gateway_shutdown');
  await h.clock.advance(2000);
  assert.deepEqual(h.events.slice(-4), ['reconnecting:0', 'connecting', 'closed', 'reconnecting:4']);
  await h.clock.advance(4000);
  assert.equal(h.requests.length, 4);
  assert.equal(h.stats.endReason, null);
  // Connected again: the next drop starts from 1 s.
  h.last().open();
  assert.equal(h.connection.current.session, 'S4');
  h.last().receive({ type: 'STATUS', code: 'HOST_CONNECTED', detail: '' });
  h.last().receive({ type: 'STATUS', code: 'SESSION_ENDED', detail: 'network' });
  h.last().drop();
  assert.deepEqual(h.events.slice(-1), ['reconnecting:1']);
});

test('a refusal with a final reason shows its message; an expired login goes to the login page', async () => {
  const h = harness([answer(403, { allowed: false, error: 'hours', message: 'until 08:30', until: null })]);
  await h.connection.start();
  assert.deepEqual(h.events, ['connecting', 'closed', 'ended:hours:until 08:30']);
  assert.equal(h.stats.endReason, 'hours');
  assert.equal(h.connection.current, null);
  assert.equal(h.sockets.length, 1);

  const l = harness([answer(401, { error: 'login_required', message: 'x' })]);
  await l.connection.start();
  assert.deepEqual(l.events, ['connecting', 'closed', 'login']);
  await l.clock.advance(600_000);
  assert.equal(l.requests.length, 1);
});

test('an unreachable gateway, or one that answers nonsense, is retried', async () => {
  const h = harness([new Error('unreachable'), answer(502, 'not json'), session(3)]);
  const errors = [];
  const original = console.error;
  console.error = (...a) => errors.push(a);
  try {
    await h.connection.start();
    assert.deepEqual(h.events, ['connecting', 'closed', 'reconnecting:1']);
    assert.equal(h.stats.endReason, null);
    await h.clock.advance(1000);
    assert.deepEqual(h.sockets[1].closedWith, [4002, 'protocol error']);
    await h.clock.advance(2000);
  } finally {
    console.error = original;
  }
  assert.equal(errors.length, 1);
  assert.equal(h.requests.length, 3);
  h.last().open();
  assert.equal(h.connection.current.session, 'S3');
});

test('the answer comes first and once: display data before it, or text after it, is a protocol error', async () => {
  const errors = [];
  const original = console.error;
  console.error = (...a) => errors.push(a);
  try {
    const h = harness([session(1), session(2)]);
    await h.connection.start();
    await settle();
    h.sockets[0].answer = null; // the gateway stays silent...
    h.sockets[0].open();
    h.sockets[0].receive({ type: 'STATUS', code: 'HOST_CONNECTED', detail: '' }); // ...and sends display data
    assert.deepEqual(h.sockets[0].closedWith, [4002, 'protocol error']);
    assert.equal(h.connection.current, null);
    await h.clock.advance(1000);
    await settle();
    h.last().open();
    h.last().receiveText('{"session":"S9","resume":"R9"}');
    assert.deepEqual(h.last().closedWith, [4002, 'protocol error']);
  } finally {
    console.error = original;
  }
  assert.equal(errors.length, 2);
});

test('the user disconnects: the socket closes with 1000 and nothing reconnects until asked', async () => {
  const h = harness([session(1), session(2)]);
  await h.connection.start();
  h.sockets[0].open();
  h.connection.close();
  assert.deepEqual(h.sockets[0].closedWith, [1000, 'user']);
  assert.deepEqual(h.events.slice(-2), ['closed', 'disconnected']);
  await h.clock.advance(600_000);
  assert.equal(h.requests.length, 1);
  await h.connection.start();
  assert.equal(h.requests.length, 2);
  assert.equal(h.last().url, 'wss://gw/hosts/pc-1/session');
});

test('the user disconnects while a resume waits: the wait is cancelled', async () => {
  const h = harness([session(1)]);
  await h.connection.start();
  h.sockets[0].open();
  h.sockets[0].drop();
  assert.deepEqual(h.events.slice(-1), ['resuming']);
  h.connection.close();
  assert.deepEqual(h.events.slice(-1), ['disconnected']);
  await h.clock.advance(600_000);
  assert.equal(h.sockets.length, 1);
  assert.equal(h.requests.length, 1);
});

test('send: only while the socket is open', async () => {
  const h = harness([session(1)]);
  h.connection.send({ type: 'REFRESH' }); // no socket yet
  await h.connection.start();
  h.connection.send({ type: 'REFRESH' }); // not open yet
  h.sockets[0].open();
  h.connection.send({ type: 'REFRESH' });
  assert.deepEqual(h.sockets[0].sent.map((m) => m.type), ['HELLO', 'REFRESH']);
});

test('Dispatcher: the draw time is measured from arrival, reset starts a new chain', async () => {
  let now = 0;
  const drawn = [];
  let release;
  const d = new Dispatcher(
    { UPDATE: () => new Promise((resolve) => { release = resolve; }) },
    { drawn: (msg, ms) => drawn.push([msg.seq, ms]), now: () => now },
  );
  const first = d.dispatch({ type: 'UPDATE', seq: 1, ops: [] });
  now = 25;
  await settle();
  release();
  await first;
  assert.deepEqual(drawn, [[1, 25]]);
  // A draw that never finishes blocks later ones until reset (a new socket).
  d.dispatch({ type: 'UPDATE', seq: 2, ops: [] });
  d.reset();
  now = 30;
  const third = d.dispatch({ type: 'UPDATE', seq: 3, ops: [] });
  await settle();
  release();
  await third;
  assert.deepEqual(drawn, [[1, 25], [3, 0]]);
  assert.equal(d.dispatch({ type: 'CURSOR_POS', x: 0, y: 0 }), undefined);
});

test('HELLO carries the video codecs the page decodes (helloFlags)', async () => {
  const h = harness([session(1)], {}, { helloFlags: () => 3 });
  await h.connection.start();
  h.sockets[0].open();
  assert.deepEqual(h.sockets[0].sent, [{ type: 'HELLO', version: 1, flags: 3 }]);
});

test('HELLO waits for flags still being found out, not the socket for them', async () => {
  let resolve;
  const flags = new Promise((r) => { resolve = r; });
  const h = harness([session(1)], {}, { helloFlags: () => flags });
  await h.connection.start();
  h.sockets[0].open();
  assert.deepEqual(h.sockets[0].sent, [], 'no HELLO before the flags are known');
  resolve(3);
  await settle();
  assert.deepEqual(h.sockets[0].sent, [{ type: 'HELLO', version: 1, flags: 3 }]);
});
