// Plays a session recording with the viewer's own protocol, dispatch and display code:
// play, pause, seek (from the nearest full picture), 1x / 2x / 4x. The recording is a message
// source (core/recording.js) for the same Dispatcher the live connection uses.

import { Dispatcher } from '../core/connection.js';
import { Display } from '../core/display.js';
import { Recording, parseRecording } from '../core/recording.js';

const canvas = document.getElementById('screen');
const playBtn = document.getElementById('play');
const seekEl = document.getElementById('seek');
const timeEl = document.getElementById('time');
const speedEl = document.getElementById('speed');
const strings = JSON.parse(document.getElementById('i18n').textContent);

const display = new Display(canvas);
const dispatcher = new Dispatcher({
  DESKTOP: (msg) => display.resize(msg.width, msg.height),
  UPDATE: (msg) => display.apply(msg),
});
const player = { ready: false, duration: 0, position: 0, framesApplied: 0, playing: false, error: null };
player.video = display.video.stats; // pictures of video streams decoded (WebCodecs), for tests
window.jisekiPlayer = player;

let recording = null;
let speed = 1;
let lastTick = 0;

function clock(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function showTime() {
  timeEl.textContent = `${clock(player.position)} / ${clock(player.duration)}`;
  seekEl.value = String(player.position);
}

/** Draw every frame up to `ms` (from the nearest earlier full picture when going back). */
function seek(ms) {
  return recording.seek(ms).then(() => {
    player.position = recording.position;
    player.framesApplied = recording.applied;
    showTime();
  });
}
player.seek = seek;
player.timeOfSeq = (seq) => recording.timeOfSeq(seq);

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
  recording = new Recording(parseRecording(plain).frames, dispatcher);
  player.duration = recording.duration;
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
