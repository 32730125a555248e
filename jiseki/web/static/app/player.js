// Plays a session recording with the viewer's own protocol and display code:
// play, pause, seek (from the nearest full picture), 1x / 2x / 4x.

import { decode } from '../core/protocol.js';
import { Display } from '../core/display.js';

const MAGIC = 'JSKREC1\n';
const canvas = document.getElementById('screen');
const playBtn = document.getElementById('play');
const seekEl = document.getElementById('seek');
const timeEl = document.getElementById('time');
const speedEl = document.getElementById('speed');
const strings = JSON.parse(document.getElementById('i18n').textContent);

const display = new Display(canvas);
const player = { ready: false, duration: 0, position: 0, framesApplied: 0, playing: false, error: null };
window.jisekiPlayer = player;

let frames = []; // { ms, msg, keyframe }
let next = 0; // index of the next frame to apply
let speed = 1;
let lastTick = 0;
let busy = Promise.resolve();

function clock(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function showTime() {
  timeEl.textContent = `${clock(player.position)} / ${clock(player.duration)}`;
  seekEl.value = String(player.position);
}

async function parse(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC) throw new Error('not a jiseki recording');
  let pos = MAGIC.length;
  const eol = bytes.indexOf(10, pos);
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(pos, eol)));
  pos = eol + 1;
  const view = new DataView(buffer);
  let width = 0, height = 0;
  const out = [];
  while (pos + 8 <= bytes.length) {
    const ms = view.getUint32(pos);
    const length = view.getUint32(pos + 4);
    pos += 8;
    const msg = decode(bytes.subarray(pos, pos + length));
    pos += length;
    let keyframe = msg.type === 'DESKTOP';
    if (msg.type === 'DESKTOP') { width = msg.width; height = msg.height; }
    if (msg.type === 'UPDATE' && width) {
      let area = 0;
      for (const op of msg.ops) if (op.op !== 'COPY') area += op.w * op.h;
      keyframe = area >= width * height; // a full picture: playback can start here
    }
    out.push({ ms, msg, keyframe });
  }
  return { meta, frames: out };
}

async function apply(frame) {
  const msg = frame.msg;
  if (msg.type === 'DESKTOP') display.resize(msg.width, msg.height);
  else if (msg.type === 'UPDATE') await display.apply(msg);
  player.framesApplied++;
}

/** Draw every frame up to `ms` (from the nearest earlier full picture when going back). */
function seek(ms) {
  busy = busy.then(async () => {
    ms = Math.max(0, Math.min(ms, player.duration));
    if (ms < player.position || next === 0) {
      let start = 0;
      for (let i = 0; i < frames.length && frames[i].ms <= ms; i++) if (frames[i].keyframe) start = i;
      // A full picture needs the desktop size from the DESKTOP message before it.
      let desktop = start;
      while (desktop > 0 && frames[desktop].msg.type !== 'DESKTOP') desktop--;
      if (frames[desktop] && frames[desktop].msg.type === 'DESKTOP') await apply(frames[desktop]);
      next = start;
    }
    while (next < frames.length && frames[next].ms <= ms) await apply(frames[next++]);
    player.position = ms;
    showTime();
  });
  return busy;
}
player.seek = seek;
player.timeOfSeq = (seq) => (frames.find((f) => f.msg.type === 'UPDATE' && f.msg.seq === seq) ?? {}).ms ?? null;

function tick(now) {
  if (!player.playing) return;
  const elapsed = (now - lastTick) * speed;
  lastTick = now;
  seek(player.position + elapsed).then(() => {
    if (player.position >= player.duration) setPlaying(false);
    else requestAnimationFrame(tick);
  });
}

function setPlaying(on) {
  player.playing = on;
  playBtn.textContent = on ? strings.pause : strings.play;
  if (on) {
    lastTick = performance.now();
    requestAnimationFrame(tick);
  }
}

async function main() {
  const response = await fetch(document.body.dataset.src, { cache: 'no-store' });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const plain = await new Response(response.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
  const parsed = await parse(plain);
  frames = parsed.frames;
  player.duration = frames.length ? frames[frames.length - 1].ms : 0;
  seekEl.max = String(player.duration);
  playBtn.addEventListener('click', () => setPlaying(!player.playing));
  seekEl.addEventListener('input', () => seek(Number(seekEl.value)));
  speedEl.addEventListener('change', () => { speed = Number(speedEl.value); });
  await seek(0);
  player.ready = true;
  setPlaying(false);
}

main().catch((err) => {
  player.error = String(err);
  timeEl.textContent = strings.error;
});
