// The viewer's connection to the office PC: opens a socket that asks the gateway for a session, sends
// and dispatches messages, and reconnects or resumes by itself after a drop (the decision is
// core/reconnect.js). No DOM: the page gives callbacks, and node tests give a fake socket and
// clock. The recording player reuses the dispatch (Dispatcher), fed from a file instead of a socket.

import { PROTOCOL_VERSION, decodeFromAgent, encode } from './protocol.js';
import { nextStep } from './reconnect.js';

const OPEN = 1; // WebSocket.OPEN (not a global under node)

/**
 * Calls one handler per message type (`handlers.DESKTOP(msg)`, ...). UPDATEs are drawn in the order
 * they came, one after another (`handlers.UPDATE(msg)` may return a promise), then `drawn(msg, ms)`
 * is called with the time from arrival to drawn; other messages are handled at once.
 */
export class Dispatcher {
  constructor(handlers, { drawn = null, now = () => performance.now() } = {}) {
    this.handlers = handlers;
    this.drawn = drawn;
    this.now = now;
    this.chain = Promise.resolve();
  }

  /** A new stream (a new socket): later updates no longer wait for the old ones. */
  reset() {
    this.chain = Promise.resolve();
  }

  /** Handle one decoded message; resolves once it is handled (an UPDATE: drawn). */
  dispatch(msg) {
    if (msg.type === 'UPDATE') {
      const started = this.now();
      this.chain = this.chain
        .then(() => this.handlers.UPDATE?.(msg))
        .then(() => this.drawn?.(msg, this.now() - started));
      return this.chain;
    }
    return this.handlers[msg.type]?.(msg);
  }
}

const defaultClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/**
 * One viewer's link to one office PC, across sessions and reconnects.
 *
 * A new session is asked for on its own socket (`/hosts/{id}/session`): the gateway's first message
 * there is text, `{session, resume}` or a refusal `{status, error, message}` (status 401: the login
 * ended); a socket that closes before answering counts as an unreachable gateway (status 0).
 *
 * Options: `hostId`, `base` ("wss://host"), `finalReasons` (Set), `graceMs` (resume
 * grace), `handlers` (per message type, see Dispatcher; STATUS is handled here), `on` (callbacks:
 * `state(key, vars)` for connecting / waiting / connected / resuming / reconnecting {s} /
 * disconnected, `ended(reason, refusal)`, `warning(detail)`, `closed()` when a socket closed,
 * `login()` when the login expired), `stats` (this object's `bytes`, `updates`, `sessions`,
 * `resumes` and `endReason` are kept here), `helloFlags()` (the HELLO flags: the video codecs the
 * page decodes, 0 without; a number or a promise of one). For tests: `openSocket(url)`, `clock`.
 */
export class Connection {
  constructor(o) {
    this.hostId = o.hostId;
    this.base = o.base;
    this.finalReasons = o.finalReasons ?? new Set();
    this.graceMs = o.graceMs;
    this.on = o.on ?? {};
    this.stats = o.stats ?? {};
    this.helloFlags = o.helloFlags ?? (() => 0);
    this.stats.bytes ??= 0;
    this.stats.updates ??= 0;
    this.stats.sessions ??= 0;
    this.stats.endReason ??= null;
    this.openSocket = o.openSocket ?? ((url) => new WebSocket(url));
    this.clock = o.clock ?? defaultClock;
    this.dispatcher = new Dispatcher(
      { ...o.handlers, STATUS: (msg) => this.#status(msg) },
      { drawn: (msg, ms) => this.send({ type: 'ACK', seq: msg.seq, decode_ms: Math.round(ms) }) },
    );
    this.ws = null;
    this.userClosed = false;
    this.attempt = 0;
    this.timer = null;
    this.current = null; // { session, resume } of the live session, kept in memory only
    this.lostAt = 0;
  }

  /** Connect now, with a new session (the first time, or the user asks again). */
  start() {
    this.attempt = 0;
    return this.#connect();
  }

  /** The user disconnects: no reconnecting until asked. */
  close() {
    this.userClosed = true;
    this.clock.clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'user');
    else this.#emit('state', 'disconnected');
  }

  send(msg) {
    if (this.ws && this.ws.readyState === OPEN) this.ws.send(encode(msg));
  }

  #emit(name, ...args) {
    this.on[name]?.(...args);
  }

  #connect() {
    this.clock.clearTimeout(this.timer);
    this.userClosed = false;
    this.stats.endReason = null;
    this.current = null;
    this.#emit('state', 'connecting');
    this.#open(`${this.base}/hosts/${encodeURIComponent(this.hostId)}/session`, false);
  }

  /** The gateway's text answer on a new-session socket: the session, or why not. */
  #answered(text) {
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (body === null || typeof body !== 'object') throw new Error('invalid answer');
    if (typeof body.session === 'string' && typeof body.resume === 'string') {
      this.stats.sessions++;
      this.current = { session: body.session, resume: body.resume };
      return null;
    }
    return { status: Number(body.status) || 0, error: body.error, message: body.message };
  }

  #open(url, resuming) {
    this.dispatcher.reset();
    let opened = false;
    let answered = resuming; // a resume needs no answer: its session is known
    let refusal = null;
    const ws = this.openSocket(url);
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      opened = true;
      // The flags may still be being found out (WebCodecs answers asynchronously): the socket
      // does not wait for them, HELLO goes once they are known.
      const flags = this.helloFlags();
      if (typeof flags === 'number') this.send({ type: 'HELLO', version: PROTOCOL_VERSION, flags });
      else flags.then((f) => { if (this.ws === ws) this.send({ type: 'HELLO', version: PROTOCOL_VERSION, flags: f }); });
    };
    ws.onmessage = (event) => {
      try {
        if (typeof event.data === 'string') {
          if (answered) throw new Error('text on the display channel');
          answered = true;
          refusal = this.#answered(event.data);
        } else {
          if (!answered) throw new Error('display data before the session');
          this.#receive(event.data);
        }
      } catch (err) {
        console.error('invalid message from the gateway', err);
        ws.close(4002, 'protocol error');
      }
    };
    ws.onclose = () => {
      this.ws = null;
      this.#emit('closed');
      if (!resuming && !this.current && !this.userClosed) {
        // No session came: refused, or the gateway was not reached (no answer at all).
        const r = refusal ?? { status: 0 };
        if (r.status > 0 && r.status !== 401) this.stats.endReason = r.error;
        const step = nextStep('refused', {
          status: r.status, error: r.error, finalReasons: this.finalReasons, attempt: this.attempt,
        });
        this.#follow(step, r.message);
        return;
      }
      const step = nextStep('closed', {
        userClosed: this.userClosed, endReason: this.stats.endReason, finalReasons: this.finalReasons,
        hasSession: Boolean(this.current), opened, resuming,
        sinceLost: this.clock.now() - this.lostAt, graceMs: this.graceMs, attempt: this.attempt,
      });
      this.#follow(step, null);
    };
  }

  #receive(data) {
    const msg = decodeFromAgent(data);
    this.stats.bytes += data.byteLength;
    if (msg.type === 'UPDATE') this.stats.updates++;
    this.dispatcher.dispatch(msg);
  }

  #status(msg) {
    if (msg.code === 'WAITING_FOR_HOST') this.#emit('state', 'waiting');
    else if (msg.code === 'HOST_CONNECTED') { this.attempt = 0; this.#emit('state', 'connected'); }
    else if (msg.code === 'SESSION_ENDED' || msg.code === 'HOST_OFFLINE') this.stats.endReason = msg.detail;
    else if (msg.code === 'WARNING') this.#emit('warning', msg.detail);
  }

  #follow(step, refusal) {
    switch (step.do) {
      case 'login':
        this.#emit('login');
        break;
      case 'disconnected':
        this.#emit('state', 'disconnected');
        break;
      case 'end':
        this.clock.clearTimeout(this.timer);
        this.current = null;
        this.#emit('ended', step.reason, step.refused ? refusal || null : null);
        break;
      case 'resume':
        if (step.lost) this.lostAt = this.clock.now();
        this.attempt = step.attempt;
        this.#emit('state', 'resuming');
        this.stats.resumes = (this.stats.resumes || 0) + 1;
        this.timer = this.clock.setTimeout(() => this.#resumeDue(), step.delay * 1000);
        break;
      case 'open':
        this.#open(`${this.base}/sessions/${this.current.session}/viewer?resume=${encodeURIComponent(this.current.resume)}`, true);
        break;
      case 'new':
        if (step.drop) this.current = null;
        this.attempt = step.attempt;
        this.#countDown(step.delay);
        break;
      default:
        throw new Error(`unknown step: ${step.do}`);
    }
  }

  #resumeDue() {
    const step = nextStep('resume-due', {
      sinceLost: this.clock.now() - this.lostAt, graceMs: this.graceMs, attempt: this.attempt,
    });
    this.#follow(step, null);
  }

  /** "Reconnecting in s seconds", every second, then a new session. */
  #countDown(delay) {
    let left = delay;
    const tick = () => {
      this.#emit('state', 'reconnecting', { s: left });
      if (left <= 0) {
        this.#connect();
        return;
      }
      left--;
      this.timer = this.clock.setTimeout(tick, 1000);
    };
    tick();
  }
}
