// The viewer page: asks the gateway for a session, shows the office PC's screen, sends input,
// and reconnects by itself after a drop. Nothing is stored in the browser.

import { PROTOCOL_VERSION, decodeFromAgent, encode } from '../core/protocol.js';
import { Display } from '../core/display.js';
import { cursorStyle } from '../core/cursor.js';
import { InputCapture } from '../core/input.js';
import { Compositor, japanTime, updateBounds } from '../core/compositor.js';
import { ClipboardShare } from './clipboard.js';

const RECONNECT_DELAYS = [1, 2, 4, 8, 10]; // seconds

const strings = JSON.parse(document.getElementById('i18n').textContent);
const t = (key, vars = {}) => (strings[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));

const hostId = document.body.dataset.host;
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const canvas = document.getElementById('screen');
const stateEl = document.getElementById('state');
const statsEl = document.getElementById('stats');
const disconnectBtn = document.getElementById('disconnect');
const reconnectBtn = document.getElementById('reconnect');

// Figures for the toolbar, and for tests and benchmarks that read them from the page.
const stats = { state: 'idle', framesDrawn: 0, updates: 0, bytes: 0, lastSeq: 0, endReason: null, sessions: 0 };
window.jisekiStats = stats;

// With a watermark, updates draw into an offscreen framebuffer and the compositor shows it with the
// watermark in the very same pixels; without one, updates draw straight into the visible canvas.
const wm = document.body.dataset;
const framebuffer = wm.wmUser ? document.createElement('canvas') : canvas;
const watermarkText = () => t('watermark', { user: wm.wmUser, terminal: wm.wmTerminal, time: japanTime() });
const compositor = wm.wmUser ? new Compositor(canvas, framebuffer, watermarkText) : null;
window.jisekiFramebuffer = framebuffer; // what the office PC sent, for tests and diagnostics
const display = new Display(framebuffer);
const noticeEl = document.getElementById('notice');
let noticeTimer = null;
let clipboard = null;
stats.ops = display.counts;
let ws = null;
let userClosed = false;
let attempt = 0;
let reconnectTimer = null;
let drawChain = Promise.resolve();

function setState(key, vars) {
  stats.state = key;
  stateEl.textContent = t(key, vars);
  document.body.dataset.state = key;
}

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(encode(msg));
}

async function loadKeyTable() {
  const response = await fetch('/static/core/keycodes.json', { cache: 'no-store' });
  const doc = await response.json();
  return new Map(Object.entries(doc.codes).map(([code, id]) => [code, (doc.page << 16) | id]));
}

function fitCanvas() {
  if (!canvas.width || !canvas.height) return;
  const stage = canvas.parentElement.getBoundingClientRect();
  const scale = Math.min(stage.width / canvas.width, stage.height / canvas.height);
  canvas.style.width = `${Math.floor(canvas.width * scale)}px`;
  canvas.style.height = `${Math.floor(canvas.height * scale)}px`;
}

function onMessage(data, input) {
  const msg = decodeFromAgent(data);
  stats.bytes += data.byteLength;
  switch (msg.type) {
    case 'STATUS':
      if (msg.code === 'WAITING_FOR_HOST') setState('waiting');
      else if (msg.code === 'HOST_CONNECTED') { setState('connected'); attempt = 0; input.setEnabled(true); }
      else if (msg.code === 'SESSION_ENDED' || msg.code === 'HOST_OFFLINE') stats.endReason = msg.detail;
      else if (msg.code === 'WARNING') showWarning(msg.detail);
      break;
    case 'DESKTOP':
      display.resize(msg.width, msg.height);
      if (compositor) compositor.resize(msg.width, msg.height);
      fitCanvas();
      break;
    case 'CLIPBOARD':
      if (clipboard) clipboard.fromHost(msg.text);
      break;
    case 'UPDATE': {
      stats.updates++;
      const started = performance.now();
      drawChain = drawChain
        .then(() => display.apply(msg))
        .then(() => {
          if (compositor) compositor.present(updateBounds(msg));
          stats.framesDrawn++;
          stats.lastSeq = msg.seq;
          if (stats.onFrame) stats.onFrame(performance.now()); // benchmarks: key -> echo latency
          send({ type: 'ACK', seq: msg.seq, decode_ms: Math.round(performance.now() - started) });
        });
      break;
    }
    case 'CURSOR_SHAPE':
      canvas.style.cursor = cursorStyle(msg);
      break;
    default:
      break; // HELLO; CURSOR_POS: the local pointer is the one shown
  }
}

async function connect(input) {
  clearTimeout(reconnectTimer);
  userClosed = false;
  reconnectBtn.hidden = true;
  disconnectBtn.hidden = false;
  stats.endReason = null;
  setState('connecting');
  let session;
  try {
    const response = await fetch('/api/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken },
      body: JSON.stringify({ host_id: hostId }),
      cache: 'no-store',
    });
    if (response.status === 401) {
      location.assign('/login'); // the login expired: nothing to retry here
      return;
    }
    const body = await response.json();
    if (!response.ok) {
      stats.endReason = body.error;
      scheduleReconnect(input);
      return;
    }
    session = body;
  } catch {
    scheduleReconnect(input);
    return;
  }
  stats.sessions++;
  drawChain = Promise.resolve();
  const url = `wss://${location.host}/sessions/${session.session}/viewer?ticket=${encodeURIComponent(session.ticket)}`;
  ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => send({ type: 'HELLO', version: PROTOCOL_VERSION, flags: 0 });
  ws.onmessage = (event) => {
    try {
      onMessage(event.data, input);
    } catch (err) {
      console.error('invalid message from the gateway', err);
      ws.close(4002, 'protocol error');
    }
  };
  ws.onclose = () => {
    input.setEnabled(false);
    ws = null;
    if (userClosed) {
      setState('disconnected');
      reconnectBtn.hidden = false;
      disconnectBtn.hidden = true;
    } else {
      scheduleReconnect(input);
    }
  };
}

function showWarning(detail) {
  const [reason, seconds] = detail.split(':');
  noticeEl.textContent = t(`warning.${reason}`, { s: seconds });
  noticeEl.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { noticeEl.hidden = true; }, Number(seconds) * 1000 || 10000);
}

function hideIdleWarning() {
  if (!noticeEl.hidden) noticeEl.hidden = true;
}

function scheduleReconnect(input) {
  const delay = RECONNECT_DELAYS[Math.min(attempt, RECONNECT_DELAYS.length - 1)];
  attempt++;
  const reason = stats.endReason ? t(`ended.${stats.endReason}`) : '';
  let left = delay;
  const tick = () => {
    setState('reconnecting', { s: left });
    if (reason) stateEl.textContent = `${reason} ${stateEl.textContent}`;
    if (left <= 0) { connect(input); return; }
    left--;
    reconnectTimer = setTimeout(tick, 1000);
  };
  tick();
}

function showStats() {
  let lastFrames = 0;
  let lastBytes = 0;
  setInterval(() => {
    const fps = stats.framesDrawn - lastFrames;
    const kbps = Math.round(((stats.bytes - lastBytes) * 8) / 1000);
    lastFrames = stats.framesDrawn;
    lastBytes = stats.bytes;
    statsEl.textContent = t('stats', { fps, kbps });
  }, 1000);
}

async function main() {
  disconnectBtn.textContent = t('disconnect');
  reconnectBtn.textContent = t('reconnect');
  const usages = await loadKeyTable();
  const input = new InputCapture(canvas, usages, send);
  disconnectBtn.addEventListener('click', () => {
    userClosed = true;
    clearTimeout(reconnectTimer);
    if (ws) ws.close(1000, 'user');
    else { setState('disconnected'); reconnectBtn.hidden = false; disconnectBtn.hidden = true; }
  });
  reconnectBtn.addEventListener('click', () => { attempt = 0; connect(input); });
  window.addEventListener('resize', fitCanvas);
  window.addEventListener('keydown', hideIdleWarning);
  canvas.addEventListener('pointermove', hideIdleWarning);
  clipboard = new ClipboardShare(document.body.dataset.clipboard ?? 'none', send);
  window.addEventListener('focus', () => clipboard.onFocus());
  if (compositor) setInterval(() => compositor.tick(), 5000);
  showStats();
  canvas.focus();
  connect(input);
}

main();
