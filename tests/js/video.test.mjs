// core/video.js with a fake VideoDecoder (node has no WebCodecs): streams open on keyframes,
// pictures are drawn in order and closed, broken streams are reported, VIDEO_END and reset close.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { VideoStreams, decoderCodec, probeVideo } from '../../jiseki/web/static/core/video.js';
import { HelloFlag } from '../../jiseki/web/static/core/protocol.js';

class FakeFrame {
  constructor(n) { this.n = n; this.closed = false; }
  close() { this.closed = true; }
}

function fakeDecoder({ fail = false } = {}) {
  const made = [];
  class Decoder {
    constructor({ output, error }) { this.output = output; this.error = error; this.state = 'unconfigured'; this.chunks = []; made.push(this); }
    configure(config) { this.config = config; this.state = 'configured'; }
    decode(chunk) {
      this.chunks.push(chunk);
      if (fail) queueMicrotask(() => this.error(new Error('bad data')));
      else queueMicrotask(() => this.output(new FakeFrame(this.chunks.length)));
    }
    close() { this.state = 'closed'; }
  }
  return { Decoder, made };
}

class Chunk { constructor(init) { Object.assign(this, init); } }

function canvas() {
  const drawn = [];
  return { drawn, drawImage: (frame, x, y, w, h) => drawn.push({ frame, x, y, w, h }) };
}

const op = (extra) => ({ op: 'VIDEO', stream: 3, x: 10, y: 20, w: 320, h: 240, codec: 'H264', keyframe: false, payload: new Uint8Array([0, 0, 1]), ...extra });

test('a keyframe opens the stream; each picture is drawn at the rectangle and closed', async () => {
  const { Decoder, made } = fakeDecoder();
  const ctx = canvas();
  const errors = [];
  const video = new VideoStreams(ctx, { Decoder, Chunk, onError: (r) => errors.push(r) });
  assert.equal(await video.draw(op({ keyframe: true })), true);
  assert.equal(await video.draw(op()), true);
  assert.equal(made.length, 1);
  assert.equal(made[0].config.codec, 'avc1.42E01F');
  assert.equal(made[0].config.optimizeForLatency, true);
  assert.deepEqual(made[0].chunks.map((c) => c.type), ['key', 'delta']);
  assert.deepEqual(ctx.drawn.map((d) => [d.frame.n, d.x, d.y, d.w, d.h]), [[1, 10, 20, 320, 240], [2, 10, 20, 320, 240]]);
  assert.ok(ctx.drawn.every((d) => d.frame.closed));
  assert.deepEqual(errors, []);
  assert.equal(video.stats.frames, 2);
  video.end(3);
  assert.equal(made[0].state, 'closed');
});

test('a delta without its keyframe (after a reconnect) draws nothing and is reported', async () => {
  const { Decoder, made } = fakeDecoder();
  const ctx = canvas();
  const errors = [];
  const video = new VideoStreams(ctx, { Decoder, Chunk, onError: (r) => errors.push(r) });
  assert.equal(await video.draw(op()), false);
  assert.equal(made.length, 0);
  assert.equal(errors.length, 1);
  // A delta that does not match the open stream's rectangle is refused too.
  await video.draw(op({ keyframe: true }));
  assert.equal(await video.draw(op({ x: 11 })), false);
  assert.equal(errors.length, 2);
  assert.equal(made[0].state, 'closed');
});

test('a decoder error breaks the stream and is reported; a new keyframe starts again', async () => {
  const bad = fakeDecoder({ fail: true });
  const errors = [];
  const video = new VideoStreams(canvas(), { Decoder: bad.Decoder, Chunk, onError: (r) => errors.push(r) });
  assert.equal(await video.draw(op({ keyframe: true })), false);
  assert.equal(errors.length, 1);
  assert.equal(video.stats.errors, 1);
  assert.equal(bad.made[0].state, 'closed');
  assert.equal(await video.draw(op()), false); // the stream is gone
});

test('reset (a DESKTOP) closes every stream; a VP8 stream uses its own decoder string', async () => {
  const { Decoder, made } = fakeDecoder();
  const video = new VideoStreams(canvas(), { Decoder, Chunk });
  await video.draw(op({ keyframe: true, codec: 'VP8' }));
  await video.draw(op({ keyframe: true, stream: 4 }));
  assert.equal(made[0].config.codec, 'vp8');
  video.reset();
  assert.ok(made.every((d) => d.state === 'closed'));
  assert.equal(video.streams.size, 0);
});

test('without WebCodecs nothing is offered and nothing is drawn', async () => {
  assert.equal(await probeVideo(undefined), 0);
  const errors = [];
  const video = new VideoStreams(canvas(), { Decoder: undefined, Chunk, onError: (r) => errors.push(r) });
  assert.equal(await video.draw(op({ keyframe: true })), false);
  assert.equal(errors.length, 1);
});

test('the HELLO flags name the codecs the browser decodes', async () => {
  const Decoder = { isConfigSupported: async ({ codec }) => ({ supported: codec === 'vp8' }) };
  assert.equal(await probeVideo(Decoder), HelloFlag.VIDEO_VP8);
  const all = { isConfigSupported: async () => ({ supported: true }) };
  assert.equal(await probeVideo(all), HelloFlag.VIDEO_H264 | HelloFlag.VIDEO_VP8);
});

test('the H.264 level follows the size of the stream', () => {
  assert.equal(decoderCodec('H264', 640, 360), 'avc1.42E01F');
  assert.equal(decoderCodec('H264', 1920, 1080), 'avc1.42E028');
  assert.equal(decoderCodec('H264', 4096, 2160), 'avc1.42E033');
  assert.equal(decoderCodec('VP8', 4096, 2160), 'vp8');
});

test('display: a picture is drawn in its place in the update, before what comes after it', async () => {
  const { Decoder } = fakeDecoder();
  const saved = [globalThis.VideoDecoder, globalThis.EncodedVideoChunk];
  globalThis.VideoDecoder = Decoder;
  globalThis.EncodedVideoChunk = Chunk;
  try {
    const { Display } = await import('../../jiseki/web/static/core/display.js');
    const calls = [];
    const ctx = {
      drawImage: (src, ...args) => calls.push(src instanceof FakeFrame ? `video ${args.join(',')}` : 'copy'),
      fillRect: (x, y, w, h) => calls.push(`fill ${x},${y},${w},${h}`),
      set fillStyle(_v) {},
    };
    const display = new Display({ width: 0, height: 0, getContext: () => ctx });
    await display.apply({ seq: 1, ops: [op({ keyframe: true }), { op: 'FILL', x: 12, y: 22, w: 5, h: 5, r: 0, g: 0, b: 0 }] });
    await display.apply({ seq: 2, ops: [op(), { op: 'VIDEO_END', stream: 3 }] });
    assert.deepEqual(calls, ['video 10,20,320,240', 'fill 12,22,5,5', 'video 10,20,320,240']);
    assert.equal(display.counts.VIDEO, 2);
    assert.equal(display.counts.VIDEO_END, 1);
    assert.equal(display.video.streams.size, 0);
  } finally {
    [globalThis.VideoDecoder, globalThis.EncodedVideoChunk] = saved;
  }
});
