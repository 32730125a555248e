// The viewer page: the UI around the connection (core/connection.js asks the gateway for a
// session, carries the messages and reconnects by itself after a drop): shows the office PC's
// screen, sends input, says what happens. Nothing is stored in the browser.

import { Connection } from '../core/connection.js';
import { Display } from '../core/display.js';
import { probeVideo } from '../core/video.js';
import { cursorStyle } from '../core/cursor.js';
import { InputCapture } from '../core/input.js';
import { Compositor, japanTime, updateBounds } from '../core/compositor.js';
import { ClipboardShare } from './clipboard.js';
import { layoutDifferences, layoutLabel } from '../core/layout.js';
import { monitorRegions } from '../core/view.js';
import { zoomView } from '../core/zoom.js';
import { ZoomControl } from './zoom.js';
import { codePointName } from '../core/textinput.js';

const strings = JSON.parse(document.getElementById('i18n').textContent);
const t = (key, vars = {}) => (strings[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));

const hostId = document.body.dataset.host;
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const canvas = document.getElementById('screen');
const stateEl = document.getElementById('state');
const statsEl = document.getElementById('stats');
const disconnectBtn = document.getElementById('disconnect');
const reconnectBtn = document.getElementById('reconnect');
const stage = document.getElementById('stage');
const view = document.getElementById('view');
const textField = document.getElementById('ime');
const modeSelect = document.getElementById('kbd-mode');
const monitorControl = document.getElementById('monitor-control');
const monitorSelect = document.getElementById('monitor');
const fullscreenBtn = document.getElementById('fullscreen');
const fullscreenHint = document.getElementById('fullscreen-hint');
const cadBtn = document.getElementById('cad');
const layoutNotice = document.getElementById('layout-notice');
const endedPanel = document.getElementById('ended');
const endedTitle = document.getElementById('ended-title');
const endedReason = document.getElementById('ended-reason');
const endedWhen = document.getElementById('ended-when');
const endedReconnect = document.getElementById('ended-reconnect');
const endedBack = document.getElementById('ended-back');

// Figures for the toolbar, and for tests and benchmarks that read them from the page.
const stats = {
  state: 'idle', framesDrawn: 0, updates: 0, bytes: 0, lastSeq: 0, endReason: null, sessions: 0,
  keyboard: { mode: 'physical', hostLayout: null, layoutNotice: false, fullscreen: false, locked: false },
  view: { crisp: false, scale: 1, monitor: -1, monitors: 0, zoom: 'fit', scrolls: false },
  input: null,
};
window.jisekiStats = stats;

// With a watermark, updates draw into an offscreen framebuffer and the compositor shows it with the
// watermark in the very same pixels; without one, updates draw straight into the visible canvas.
const wm = document.body.dataset;
const framebuffer = wm.wmUser ? document.createElement('canvas') : canvas;
const watermarkText = () => t('watermark', { user: wm.wmUser, terminal: wm.wmTerminal, time: japanTime() });
const compositor = wm.wmUser ? new Compositor(canvas, framebuffer, watermarkText) : null;
window.jisekiFramebuffer = framebuffer; // what the office PC sent, for tests and diagnostics
// A broken video stream: ask for the screen again (the agent restarts video with a keyframe).
// At most every 2 s: a browser whose decoder keeps failing must not turn into a refresh loop.
let lastVideoRefresh = -Infinity;
function onVideoError(reason) {
  console.warn('video stream:', reason);
  const now = performance.now();
  if (now - lastVideoRefresh < 2000) return;
  lastVideoRefresh = now;
  send({ type: 'REFRESH' });
}
const display = new Display(framebuffer, { onVideoError });
const noticeEl = document.getElementById('notice');
let noticeTimer = null;
let clipboard = null;
stats.ops = display.counts;
stats.video = display.video.stats; // pictures decoded through the video path, streams, errors
let connection = null; // the Connection, once the page is set up
let videoFlags = 0; // the video codecs this browser decodes (HELLO flags): a promise once probing starts

function setState(key, vars) {
  stats.state = key;
  stateEl.textContent = t(key, vars);
  document.body.dataset.state = key;
}

function send(msg) {
  connection?.send(msg);
}

// The key table comes in the page (a request less before connecting).
function loadKeyTable() {
  const doc = JSON.parse(document.getElementById('keycodes').textContent);
  return {
    usages: new Map(Object.entries(doc.codes).map(([code, id]) => [code, (doc.page << 16) | id])),
    codeOfUsageId: new Map(Object.entries(doc.codes).map(([code, id]) => [id, code])),
  };
}

// ---- picture placement: fit (crisp 1:1 when there is room) or a zoom; one monitor or all -----

let regions = [];
let zoom = null; // ZoomControl, once the page is set up

function layoutAt(region) {
  const dpr = window.devicePixelRatio || 1;
  const picture = { width: canvas.width, height: canvas.height };
  const value = zoom ? zoom.value : 'fit';
  const r = stage.getBoundingClientRect();
  let v = zoomView(r, dpr, picture, region, value);
  zoom?.setScrolls(v.scrolls);
  if (v.scrolls) {
    // Scrollbars take room: centre what fits in the client area that is left.
    v = zoomView({ left: r.left, top: r.top, width: stage.clientWidth, height: stage.clientHeight }, dpr, picture, region, value);
  }
  Object.assign(stats.view, { zoom: value, scrolls: v.scrolls });
  return v;
}

function fitCanvas(input) {
  if (!canvas.width || !canvas.height) return;
  const monitor = monitorSelect.value === '' ? -1 : Number(monitorSelect.value);
  const region = monitor >= 0 && regions[monitor] ? regions[monitor] : { x: 0, y: 0, w: canvas.width, h: canvas.height };
  const v = layoutAt(region);
  Object.assign(view.style, {
    left: `${v.box.left}px`, top: `${v.box.top}px`, width: `${v.box.width}px`, height: `${v.box.height}px`, transform: '',
  });
  Object.assign(canvas.style, {
    left: `${v.canvas.left}px`, top: `${v.canvas.top}px`, width: `${v.canvas.width}px`, height: `${v.canvas.height}px`,
    imageRendering: v.crisp ? 'pixelated' : 'auto',
  });
  if (v.crisp) {
    // Layout rounds positions to 1/64 px, which is not a device pixel at 1.25 or 1.5: move the
    // box the rest of the way with a transform, so that 1:1 really is 1:1.
    const dpr = window.devicePixelRatio || 1;
    const placed = view.getBoundingClientRect();
    const dx = (Math.round(placed.left * dpr) - placed.left * dpr) / dpr;
    const dy = (Math.round(placed.top * dpr) - placed.top * dpr) / dpr;
    if (Math.abs(dx) > 1e-4 || Math.abs(dy) > 1e-4) view.style.transform = `translate(${dx}px, ${dy}px)`;
  }
  input.region = region;
  Object.assign(stats.view, { crisp: v.crisp, scale: v.scale, monitor });
}

function watchDevicePixelRatio(input) {
  // Moving the window to another screen or zooming changes devicePixelRatio: fit again.
  const query = window.matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`);
  query.addEventListener('change', () => { fitCanvas(input); watchDevicePixelRatio(input); }, { once: true });
}

function setMonitors(msg, input) {
  regions = monitorRegions(msg);
  const previous = monitorSelect.value;
  monitorSelect.replaceChildren(new Option(t('monitor_all'), '-1'));
  regions.forEach((r, i) => monitorSelect.append(new Option(t('monitor_n', { n: i + 1, w: r.w, h: r.h }), String(i))));
  monitorSelect.value = [...monitorSelect.options].some((o) => o.value === previous) ? previous : '-1';
  monitorControl.hidden = regions.length < 2;
  stats.view.monitors = regions.length;
  fitCanvas(input);
}

// ---- keyboard layout: tell the user once when the terminal's differs from the office PC's ---

let keyTable = null;

// The office PC layout this terminal was last told about: once per terminal, not per connection.
let layoutTold = document.body.dataset.layoutTold || '';

function layoutText(name) {
  const label = layoutLabel(name);
  if (!label) return name || '?';
  return label.variant ? `${t(label.key)} ${label.variant}` : t(label.key);
}

function rememberLayoutTold(name) {
  layoutTold = name;
  fetch('/api/terminal/view', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken },
    body: JSON.stringify({ layout_told: name }),
    cache: 'no-store',
  }).catch(() => {}); // not remembered: the notice comes once more next time
}

async function checkLayout(msg) {
  stats.keyboard.hostLayout = msg.name;
  if (stats.keyboard.layoutNotice || msg.name === layoutTold || !navigator.keyboard?.getLayoutMap) return;
  let map;
  try {
    map = await navigator.keyboard.getLayoutMap();
  } catch {
    return; // not allowed here (e.g. in a frame): say nothing rather than guess
  }
  if (layoutDifferences(map, msg, keyTable.codeOfUsageId).length === 0) return;
  stats.keyboard.layoutNotice = true;
  document.getElementById('layout-text').textContent = t('layout_mismatch', { layout: layoutText(msg.name) });
  layoutNotice.hidden = false;
  rememberLayoutTold(msg.name);
}

// ---- text mode: say which characters were left out (they cannot be typed on the office PC) ----

const textNotice = document.getElementById('text-notice');
let textNoticeTimer = null;

function showTextRemoved(codePoints) {
  const names = [...new Set(codePoints.map(codePointName))];
  const shown = names.length > 5 ? [...names.slice(0, 5), '…'] : names;
  document.getElementById('text-notice-text').textContent = t('text_removed', { chars: shown.join(' ') });
  textNotice.hidden = false;
  clearTimeout(textNoticeTimer);
  textNoticeTimer = setTimeout(() => { textNotice.hidden = true; }, 15000);
}

// ---- full screen with the keyboard locked, so Ctrl+W, Alt+Tab, Esc, Windows go to the PC ----

async function toggleFullscreen() {
  if (document.fullscreenElement) {
    await document.exitFullscreen();
    return;
  }
  await document.documentElement.requestFullscreen({ navigationUI: 'hide' });
  if (navigator.keyboard?.lock) {
    try {
      await navigator.keyboard.lock();
      stats.keyboard.locked = true;
    } catch {
      stats.keyboard.locked = false; // the browser keeps its shortcuts; everything else still works
    }
  }
}

let hintTimer = null;

function onFullscreenChange(input) {
  const on = Boolean(document.fullscreenElement);
  stats.keyboard.fullscreen = on;
  fullscreenBtn.textContent = t(on ? 'fullscreen_exit' : 'fullscreen');
  clearTimeout(hintTimer);
  fullscreenHint.hidden = !on;
  if (on) hintTimer = setTimeout(() => { fullscreenHint.hidden = true; }, 8000);
  else {
    navigator.keyboard?.unlock?.();
    stats.keyboard.locked = false;
  }
  input.focus(null);
  fitCanvas(input);
}

// What each message from the office PC does on the page (STATUS is the connection's own).
function messageHandlers(input) {
  return {
    DESKTOP: (msg) => {
      display.resize(msg.width, msg.height);
      if (compositor) compositor.resize(msg.width, msg.height);
      setMonitors(msg, input);
    },
    KEYBOARD_LAYOUT: (msg) => checkLayout(msg),
    CLIPBOARD: (msg) => { if (clipboard) clipboard.fromHost(msg.text); },
    UPDATE: async (msg) => { // in order; the connection ACKs once this is done
      await display.apply(msg);
      if (compositor) compositor.present(updateBounds(msg));
      stats.framesDrawn++;
      stats.lastSeq = msg.seq;
      if (stats.onFrame) stats.onFrame(performance.now()); // benchmarks: key -> echo latency
    },
    CURSOR_SHAPE: (msg) => { canvas.style.cursor = cursorStyle(msg); },
    // HELLO; CURSOR_POS: the local pointer is the one shown
  };
}

// What the page shows for each state of the connection.
function onConnectionState(key, vars, input) {
  if (key === 'connecting') {
    reconnectBtn.hidden = true;
    disconnectBtn.hidden = false;
    endedPanel.hidden = true;
    stats.ended = null;
    setState('connecting');
  } else if (key === 'connected') {
    setState('connected');
    input.setEnabled(true);
  } else if (key === 'disconnected') {
    setState('disconnected');
    reconnectBtn.hidden = false;
    disconnectBtn.hidden = true;
  } else if (key === 'reconnecting') {
    setState('reconnecting', vars);
    // Why the last session ended, before the countdown.
    if (stats.endReason) stateEl.textContent = `${t(`ended.${stats.endReason}`)} ${stateEl.textContent}`;
  } else {
    setState(key, vars); // waiting, resuming
  }
}

// ---- the end screen: why, when connecting is allowed again (if known), the way back ---------

function showEnded(reason, refusal) {
  setState('ended');
  // A refused request never connected: its own message says why (and until when); an end says why.
  const why = refusal || t(`ended.${reason}`);
  if (refusal) endedTitle.textContent = t('refused');
  stateEl.textContent = refusal ? t('refused') : why;
  endedReason.textContent = why;
  endedWhen.hidden = true;
  endedReconnect.hidden = true;
  reconnectBtn.hidden = true;
  disconnectBtn.hidden = true;
  endedPanel.hidden = false;
  stats.ended = { reason, allowed: null, when: '' };
  if (refusal) Object.assign(stats.ended, { allowed: false, when: refusal });
  else checkAccess();
  endedBack.focus();
}

function showRefusal(message) {
  endedWhen.textContent = message;
  endedWhen.hidden = false;
  Object.assign(stats.ended, { allowed: false, when: message });
}

async function checkAccess() {
  let response;
  let body = null;
  try {
    response = await fetch(`/api/hosts/${encodeURIComponent(hostId)}/access`, { cache: 'no-store' });
    body = await response.json();
  } catch {
    return; // the way back to My PCs is there; nothing more to say
  }
  if (response.status === 401) { // the login itself ended: the way back is the login page
    endedBack.textContent = t('ended.login');
    endedBack.href = '/login';
    stats.ended.allowed = false;
  } else if (body && body.allowed) {
    endedReconnect.hidden = false;
    stats.ended.allowed = true;
  } else if (body && body.message) {
    showRefusal(body.message);
  }
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

function connectionFor(input) {
  return new Connection({
    hostId,
    base: `wss://${location.host}`,
    // Reasons after which reconnecting by itself would only be refused again, or would undo what
    // the user, an administrator or a rule meant (EndReason.FINAL, named by the gateway).
    finalReasons: new Set((document.body.dataset.finalReasons || '').split(' ').filter(Boolean)),
    graceMs: Number(document.body.dataset.resumeGrace || 60) * 1000,
    handlers: messageHandlers(input),
    helloFlags: () => videoFlags,
    stats,
    on: {
      state: (key, vars) => onConnectionState(key, vars, input),
      ended: showEnded,
      warning: showWarning,
      closed: () => input.setEnabled(false),
      login: () => location.assign('/login'), // the login expired: nothing to retry here
    },
  });
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

function platform() {
  return navigator.userAgentData?.platform || navigator.platform || '';
}

function main() {
  disconnectBtn.textContent = t('disconnect');
  reconnectBtn.textContent = t('reconnect');
  keyTable = loadKeyTable();
  const toolbar = document.querySelector('.bar');
  const tips = document.getElementById('tips');
  zoom = new ZoomControl({
    select: document.getElementById('zoom'),
    stage,
    initial: document.body.dataset.zoom,
    csrfToken,
    onChange: () => { fitCanvas(input); input.focus(null); },
    onPanned: () => input.repoint(),
  });
  canvas.addEventListener('pointermove', (e) => zoom.observe(e));
  canvas.addEventListener('pointerleave', () => zoom.leave());
  stats.zoom = zoom.stats;
  const input = new InputCapture(canvas, textField, keyTable.usages, send, {
    windows: /^win/i.test(platform()),
    mac: /mac|iphone|ipad/i.test(platform()),
    onEscapeHold: () => { if (document.fullscreenElement) document.exitFullscreen(); },
    ignoreTarget: (el) => toolbar.contains(el) || tips.contains(el),
    onTextRemoved: showTextRemoved,
  });
  stats.input = input.stats;
  modeSelect.addEventListener('change', () => {
    input.setMode(modeSelect.value);
    stats.keyboard.mode = input.mode;
  });
  monitorSelect.addEventListener('change', () => { fitCanvas(input); input.focus(null); });
  fullscreenBtn.addEventListener('click', () => toggleFullscreen().catch((err) => console.warn('full screen', err)));
  document.addEventListener('fullscreenchange', () => onFullscreenChange(input));
  cadBtn.addEventListener('click', () => { input.sendCtrlAltDel(); input.focus(null); });
  document.getElementById('layout-close').addEventListener('click', () => { layoutNotice.hidden = true; input.focus(null); });
  document.getElementById('text-notice-close').addEventListener('click', () => { textNotice.hidden = true; input.focus(null); });
  watchDevicePixelRatio(input);
  // Asked at once but not waited for: the session's socket opens meanwhile (Chromium's answer can
  // take longer than the whole connection on a fast link).
  videoFlags = probeVideo().then((flags) => { stats.videoFlags = flags; return flags; });
  connection = connectionFor(input);
  disconnectBtn.addEventListener('click', () => connection.close());
  reconnectBtn.addEventListener('click', () => connection.start());
  endedReconnect.addEventListener('click', () => connection.start());
  window.addEventListener('resize', () => fitCanvas(input));
  // The toolbar may wrap or unwrap (status texts change): the stage moves without a window resize.
  new ResizeObserver(() => fitCanvas(input)).observe(stage);
  window.addEventListener('keydown', hideIdleWarning);
  canvas.addEventListener('pointermove', hideIdleWarning);
  clipboard = new ClipboardShare(document.body.dataset.clipboard ?? 'none', send);
  window.addEventListener('focus', () => clipboard.onFocus());
  if (compositor) setInterval(() => compositor.tick(), 5000);
  showStats();
  input.focus(null);
  connection.start();
}

main();
