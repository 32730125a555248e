// A session recording as a message source for the viewer's dispatch (core/connection.js
// Dispatcher): the messages up to a time, in order, from the nearest full picture when going back.
// No DOM: the player page (app/player.js) draws through the dispatcher; node tests count.
//
// The file (after gunzip), as jiseki/gateway/recording.py writes it: "JSKREC1\n", one line of JSON
// metadata, then frames of u32 milliseconds, u32 length, one display message.

import { decode } from './protocol.js';

export const MAGIC = 'JSKREC1\n';

/** { meta, frames: [{ ms, msg, keyframe }] } of a whole recording. */
export function parseRecording(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC) throw new Error('not a jiseki recording');
  let pos = MAGIC.length;
  const eol = bytes.indexOf(10, pos);
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(pos, eol)));
  pos = eol + 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0, height = 0;
  const frames = [];
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
      // What draws a picture of its own: not COPY, not VIDEO_END, and video only from a keyframe
      // (a later picture of a stream needs the ones before it).
      for (const op of msg.ops) {
        if (op.op === 'COPY' || op.op === 'VIDEO_END' || (op.op === 'VIDEO' && !op.keyframe)) continue;
        area += op.w * op.h;
      }
      keyframe = area >= width * height; // a full picture: playback can start here
    }
    frames.push({ ms, msg, keyframe });
  }
  return { meta, frames };
}

/** Feeds a recording's messages to a dispatcher, up to the time asked for. */
export class Recording {
  constructor(frames, dispatcher) {
    this.frames = frames;
    this.dispatcher = dispatcher;
    this.duration = frames.length ? frames[frames.length - 1].ms : 0;
    this.position = 0;
    this.applied = 0; // messages dispatched, counting those again after a seek back
    this.next = 0; // index of the next frame to dispatch
    this.busy = Promise.resolve();
  }

  async #apply(frame) {
    await this.dispatcher.dispatch(frame.msg);
    this.applied++;
  }

  /** Dispatch every frame up to `ms` (from the nearest earlier full picture when going back). */
  seek(ms) {
    this.busy = this.busy.then(async () => {
      ms = Math.max(0, Math.min(ms, this.duration));
      const frames = this.frames;
      if (ms < this.position || this.next === 0) {
        let start = 0;
        for (let i = 0; i < frames.length && frames[i].ms <= ms; i++) if (frames[i].keyframe) start = i;
        // A full picture needs the desktop size from the DESKTOP message before it.
        let desktop = start;
        while (desktop > 0 && frames[desktop].msg.type !== 'DESKTOP') desktop--;
        if (frames[desktop] && frames[desktop].msg.type === 'DESKTOP') await this.#apply(frames[desktop]);
        this.next = start;
      }
      while (this.next < frames.length && frames[this.next].ms <= ms) await this.#apply(frames[this.next++]);
      this.position = ms;
    });
    return this.busy;
  }

  /** The time of the UPDATE with sequence number `seq`, or null. */
  timeOfSeq(seq) {
    return (this.frames.find((f) => f.msg.type === 'UPDATE' && f.msg.seq === seq) ?? {}).ms ?? null;
  }
}
