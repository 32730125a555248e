// Video streams of UPDATE (VIDEO / VIDEO_END operations): one WebCodecs VideoDecoder per stream.
// Each access unit is decoded and its picture drawn into the framebuffer at the operation's place
// in the update's order (the display waits for it), so a later operation over the same rectangle
// is never covered by older video. Pictures are closed as soon as they are drawn; nothing is kept.
// A decoder error, or a picture that cannot be decoded (no keyframe since a reconnect), closes
// the stream and calls `onError` (the viewer then asks the agent for a refresh: a new stream starts
// with a keyframe). WebCodecs needs a secure context: the viewer's page is https.

import { HelloFlag } from './protocol.js';

// Constrained baseline (no B-frames), level 3.1 for the probe; a stream names the level its size needs.
export const DECODER_CODECS = Object.freeze({ H264: 'avc1.42E01F', VP8: 'vp8' });

/** The codec string for a stream: H.264's level follows the picture's size in macroblocks. */
export function decoderCodec(codec, w, h) {
  if (codec !== 'H264') return DECODER_CODECS[codec];
  const mbs = Math.ceil(w / 16) * Math.ceil(h / 16);
  if (mbs <= 3600) return 'avc1.42E01F'; // 3.1: up to 1280x720
  if (mbs <= 8704) return 'avc1.42E028'; // 4.0: up to 2048x1088
  return 'avc1.42E033'; // 5.1: up to 4096x2304
}
const FLAGS = Object.freeze({ H264: HelloFlag.VIDEO_H264, VP8: HelloFlag.VIDEO_VP8 });
const OUTPUT_TIMEOUT_MS = 1000; // a decoder that holds a picture this long is treated as failed

/** The HELLO flags for the codecs this browser decodes (0 without WebCodecs). */
export async function probeVideo(Decoder = globalThis.VideoDecoder) {
  if (typeof Decoder?.isConfigSupported !== 'function') return 0;
  let flags = 0;
  for (const [name, codec] of Object.entries(DECODER_CODECS)) {
    try {
      const { supported } = await Decoder.isConfigSupported({ codec, optimizeForLatency: true });
      if (supported) flags |= FLAGS[name];
    } catch {
      // not this codec
    }
  }
  return flags;
}

export class VideoStreams {
  /**
   * `ctx`: the framebuffer's 2-D context; `onError(reason)`: a stream broke (the live viewer sends
   * REFRESH; a recording's player has nobody to ask). For tests: `Decoder`, `Chunk`.
   */
  constructor(ctx, { onError = null, Decoder = globalThis.VideoDecoder, Chunk = globalThis.EncodedVideoChunk } = {}) {
    this.ctx = ctx;
    this.onError = onError;
    this.Decoder = Decoder;
    this.Chunk = Chunk;
    this.streams = new Map();
    this.stats = { frames: 0, keyframes: 0, streams: 0, errors: 0, skipped: 0 };
  }

  /** Decode one VIDEO operation and draw its picture; false when nothing was drawn. */
  async draw(op) {
    let s = this.streams.get(op.stream);
    const matches = s && !s.broken && s.codec === op.codec && s.x === op.x && s.y === op.y && s.w === op.w && s.h === op.h;
    if (op.keyframe) {
      if (!matches) {
        this.end(op.stream);
        s = this.#open(op);
        if (!s) return false;
      }
      this.stats.keyframes++;
    } else if (!matches) {
      this.#fail(op.stream, 'no keyframe for this stream');
      this.stats.skipped++;
      return false;
    }
    const frame = await this.#decode(s, op);
    if (!frame) return false;
    try {
      this.ctx.drawImage(frame, op.x, op.y, op.w, op.h);
    } finally {
      frame.close();
    }
    this.stats.frames++;
    return true;
  }

  /** VIDEO_END: the stream is over (an unknown stream is nothing to do). */
  end(id) {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    this.#release(s);
  }

  /** A new desktop or a new socket: every stream is gone. */
  reset() {
    for (const id of [...this.streams.keys()]) this.end(id);
  }

  #open(op) {
    if (typeof this.Decoder !== 'function') {
      this.#report('no VideoDecoder in this browser');
      return null;
    }
    const s = { codec: op.codec, x: op.x, y: op.y, w: op.w, h: op.h, waiting: [], broken: false, timestamp: 0, decoder: null };
    try {
      s.decoder = new this.Decoder({
        output: (frame) => this.#output(s, frame),
        error: (err) => this.#broke(s, op.stream, String(err)),
      });
      s.decoder.configure({ codec: decoderCodec(op.codec, op.w, op.h), optimizeForLatency: true });
    } catch (err) {
      this.#report(String(err));
      return null;
    }
    this.streams.set(op.stream, s);
    this.stats.streams++;
    return s;
  }

  #decode(s, op) {
    return new Promise((resolve) => {
      const entry = { resolve, done: false, timer: null };
      const finish = (frame) => {
        if (entry.done) { frame?.close(); return; }
        entry.done = true;
        clearTimeout(entry.timer);
        resolve(frame);
      };
      entry.finish = finish;
      s.waiting.push(entry);
      entry.timer = setTimeout(() => { if (!entry.done) this.#broke(s, op.stream, 'no picture from the decoder'); }, OUTPUT_TIMEOUT_MS);
      try {
        s.decoder.decode(new this.Chunk({
          type: op.keyframe ? 'key' : 'delta', timestamp: s.timestamp, data: op.payload,
        }));
        s.timestamp += 40000; // microseconds; only their order matters here
      } catch (err) {
        this.#broke(s, op.stream, String(err));
      }
    });
  }

  #output(s, frame) {
    // Pictures come out in decoding order (no B-frames): each is the oldest waiting one's.
    const entry = s.waiting.shift();
    if (entry) entry.finish(frame);
    else frame.close();
  }

  #broke(s, id, reason) {
    if (s.broken) return;
    s.broken = true;
    this.stats.errors++;
    if (this.streams.get(id) === s) this.streams.delete(id);
    this.#release(s);
    this.#report(reason);
  }

  #fail(id, reason) {
    this.end(id);
    this.#report(reason);
  }

  #report(reason) {
    this.onError?.(reason);
  }

  #release(s) {
    for (const entry of s.waiting.splice(0)) entry.finish(null);
    try {
      if (s.decoder && s.decoder.state !== 'closed') s.decoder.close();
    } catch {
      // already closed
    }
  }
}
