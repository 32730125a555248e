// A recording as a message source for the viewer's dispatch (core/recording.js, node --test): the
// file format, full pictures, and seeking forward and back through the same Dispatcher the live
// connection uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Dispatcher } from '../../jiseki/web/static/core/connection.js';
import { MAGIC, Recording, parseRecording } from '../../jiseki/web/static/core/recording.js';
import { encode } from '../../jiseki/web/static/core/protocol.js';

const W = 8, H = 4;
const full = (seq) => ({ type: 'UPDATE', seq, ops: [{ op: 'FILL', x: 0, y: 0, w: W, h: H, r: seq, g: 0, b: 0 }] });
const small = (seq) => ({ type: 'UPDATE', seq, ops: [{ op: 'FILL', x: 1, y: 1, w: 2, h: 2, r: seq, g: 0, b: 0 }] });
// A full-size COPY is no picture of its own: playback cannot start there.
const copy = (seq) => ({ type: 'UPDATE', seq, ops: [{ op: 'COPY', sx: 0, sy: 0, w: W, h: H, dx: 0, dy: 0 }] });

function file(frames, meta = { session: 's1' }) {
  const parts = [new TextEncoder().encode(MAGIC + JSON.stringify(meta) + '\n')];
  for (const [ms, msg] of frames) {
    const body = encode(msg);
    const head = new Uint8Array(8);
    new DataView(head.buffer).setUint32(0, ms);
    new DataView(head.buffer).setUint32(4, body.length);
    parts.push(head, body);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) { out.set(p, pos); pos += p.length; }
  return out.buffer;
}

const FRAMES = [
  [0, { type: 'DESKTOP', width: W, height: H, monitors: [{ x: 0, y: 0, w: W, h: H }] }],
  [0, full(1)],
  [100, small(2)],
  [150, { type: 'CURSOR_POS', x: 1, y: 1 }],
  [200, full(3)],
  [250, copy(4)],
  [300, small(5)],
];

function player() {
  const seen = [];
  const dispatcher = new Dispatcher({
    DESKTOP: (m) => seen.push(`desktop ${m.width}x${m.height}`),
    UPDATE: async (m) => { await null; seen.push(`update ${m.seq}`); },
  });
  const { meta, frames } = parseRecording(file(FRAMES));
  return { seen, meta, frames, recording: new Recording(frames, dispatcher) };
}

test('parse: metadata, every frame in order, full pictures marked', () => {
  const { meta, frames } = player();
  assert.deepEqual(meta, { session: 's1' });
  assert.deepEqual(frames.map((f) => f.ms), [0, 0, 100, 150, 200, 250, 300]);
  assert.deepEqual(frames.map((f) => f.keyframe), [true, true, false, false, true, false, false]);
  assert.throws(() => parseRecording(new TextEncoder().encode('JSKREC2\n{}\n').buffer), /not a jiseki recording/);
});

test('seek forward dispatches each frame once, in order; back starts from the full picture before', async () => {
  const { seen, recording } = player();
  assert.equal(recording.duration, 300);
  await recording.seek(0);
  assert.deepEqual(seen.splice(0), ['desktop 8x4', 'update 1']);
  await recording.seek(120);
  assert.deepEqual(seen.splice(0), ['update 2']);
  assert.equal(recording.position, 120);
  await recording.seek(10_000); // past the end: to the end
  assert.deepEqual(seen.splice(0), ['update 3', 'update 4', 'update 5']);
  assert.equal(recording.position, 300);
  // Back to 260: the desktop size, then from the full picture at 200.
  await recording.seek(260);
  assert.deepEqual(seen.splice(0), ['desktop 8x4', 'update 3', 'update 4']);
  await recording.seek(-5);
  assert.deepEqual(seen.splice(0), ['desktop 8x4', 'update 1']);
  assert.equal(recording.position, 0);
  assert.equal(recording.applied, 12); // CURSOR_POS counts as played, though nothing draws it
});

test('seeks asked for at once run one after another', async () => {
  const { seen, recording } = player();
  recording.seek(0);
  recording.seek(300);
  await recording.seek(110);
  assert.deepEqual(seen, ['desktop 8x4', 'update 1', 'update 2', 'update 3', 'update 4', 'update 5', 'desktop 8x4', 'update 1', 'update 2']);
});

test('timeOfSeq: when an update was sent', () => {
  const { recording } = player();
  assert.equal(recording.timeOfSeq(3), 200);
  assert.equal(recording.timeOfSeq(99), null);
});

test('full pictures: a refresh that ends video streams still counts; a video delta does not', () => {
  const pay = new Uint8Array([1]);
  const video = (keyframe) => ({ op: 'VIDEO', stream: 0, x: 0, y: 0, w: W, h: H, codec: 'H264', keyframe, payload: pay });
  const { frames } = parseRecording(file([
    [0, { type: 'DESKTOP', width: W, height: H, monitors: [{ x: 0, y: 0, w: W, h: H }] }],
    [10, { type: 'UPDATE', seq: 1, ops: [{ op: 'VIDEO_END', stream: 0 }, ...full(1).ops] }],
    [20, { type: 'UPDATE', seq: 2, ops: [video(false)] }],
    [30, { type: 'UPDATE', seq: 3, ops: [video(true)] }],
  ]));
  assert.deepEqual(frames.map((f) => f.keyframe), [true, true, false, true]);
});
