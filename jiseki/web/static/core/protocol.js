// The jiseki display protocol in JavaScript: the mirror of jiseki/protocol/codec.py.
// Pure functions (bytes in, objects out), checked against tests/vectors/ like the Python side.
// One registry entry per message type (REGISTRY below): a new message is one entry here.

export const PROTOCOL_VERSION = 1;

// MsgType, OpType and the direction sets are derived from the registries below.
export const Codec = Object.freeze({ JPEG: 1, WEBP: 2, PNG: 3 });
const CODEC_NAMES = Object.fromEntries(Object.entries(Codec).map(([k, v]) => [v, k]));
export const VideoCodec = Object.freeze({ H264: 1, VP8: 2 });
const VIDEO_CODEC_NAMES = Object.fromEntries(Object.entries(VideoCodec).map(([k, v]) => [v, k]));
// HELLO flags of the viewer: the video codecs it can decode. VIDEO flags: a keyframe.
export const HelloFlag = Object.freeze({ VIDEO_H264: 0x01, VIDEO_VP8: 0x02 });
const VIDEO_KEYFRAME = 0x01;
export const CODEC_MIME = Object.freeze({ JPEG: 'image/jpeg', WEBP: 'image/webp', PNG: 'image/png' });
export const StatusCode = Object.freeze({
  WAITING_FOR_HOST: 1, HOST_CONNECTED: 2, HOST_OFFLINE: 3, SESSION_ENDED: 4, WARNING: 5,
});
const STATUS_NAMES = Object.fromEntries(Object.entries(StatusCode).map(([k, v]) => [v, k]));

// Lock bits of LOCKS.known / LOCKS.state.
export const Lock = Object.freeze({ CAPS: 0x01, NUM: 0x02, SCROLL: 0x04, KANA: 0x08 });
const LOCK_ALL = 0x0f;

// The limits of jiseki/protocol/limits.py (a Python test compares the two).
export const MAX_COORD = 16384;
export const MAX_MONITORS = 16;
export const MAX_OPS = 8192;
export const MAX_AGENT_MESSAGE = 32 * 1024 * 1024;
export const MAX_CLIPBOARD_BYTES = 1024 * 1024;
export const MAX_VIEWER_MESSAGE = MAX_CLIPBOARD_BYTES + 16;
export const CLIPBOARD_TEXT = 1;
export const MAX_TEXT_BYTES = 1024;
export const MAX_STATUS_BYTES = 256;
export const MAX_CURSOR = 256;
export const MAX_LAYOUT_NAME_BYTES = 64;
export const MAX_LAYOUT_KEYS = 128;
export const MAX_VIDEO_STREAMS = 16;
export const MAX_VIDEO_SIZE = 4096;
export const MAX_VIDEO_FRAME = 4 * 1024 * 1024;

export class ProtocolError extends Error {}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function checkRect(x, y, w, h) {
  if (w < 1 || h < 1 || x < 0 || y < 0 || x + w > MAX_COORD || y + h > MAX_COORD) {
    throw new ProtocolError(`rectangle out of range: ${x},${y} ${w}x${h}`);
  }
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }
  need(n) {
    if (this.pos + n > this.bytes.length) throw new ProtocolError('message truncated');
  }
  u8() { this.need(1); return this.view.getUint8(this.pos++); }
  u16() { this.need(2); const v = this.view.getUint16(this.pos); this.pos += 2; return v; }
  i16() { this.need(2); const v = this.view.getInt16(this.pos); this.pos += 2; return v; }
  u32() { this.need(4); const v = this.view.getUint32(this.pos); this.pos += 4; return v; }
  take(n) { this.need(n); const v = this.bytes.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  done() { if (this.pos !== this.bytes.length) throw new ProtocolError('trailing bytes after message'); }
}

function utf8(bytes) {
  try { return utf8Decoder.decode(bytes); } catch { throw new ProtocolError('text is not valid UTF-8'); }
}

function checkLayoutName(name) {
  for (const ch of name) {
    const cp = ch.codePointAt(0);
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) throw new ProtocolError('control character in a layout name');
  }
}

function checkLayoutKeys(keys) {
  if (keys.length > MAX_LAYOUT_KEYS) throw new ProtocolError('too many keys in a keyboard layout');
  let last = -1;
  for (const key of keys) {
    if (key.usage_id <= last) throw new ProtocolError('layout keys must be in ascending usage order, each once');
    last = key.usage_id;
    const cp = key.codepoint;
    if (cp < 0x20 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw new ProtocolError(`layout character out of range: ${cp}`);
    }
  }
}

function checkLocks(known, state) {
  if ((known & ~LOCK_ALL) !== 0 || (state & ~known) !== 0) throw new ProtocolError('lock bits out of range');
}


class Writer {
  constructor() { this.parts = []; this.length = 0; }
  bytes(n, fill) {
    const b = new Uint8Array(n);
    fill(new DataView(b.buffer));
    this.parts.push(b);
    this.length += n;
  }
  u8(v) { this.bytes(1, (d) => d.setUint8(0, checkInt(v, 0, 0xff))); }
  u16(v) { this.bytes(2, (d) => d.setUint16(0, checkInt(v, 0, 0xffff))); }
  i16(v) { this.bytes(2, (d) => d.setInt16(0, checkInt(v, -0x8000, 0x7fff))); }
  u32(v) { this.bytes(4, (d) => d.setUint32(0, checkInt(v, 0, 0xffffffff))); }
  raw(b) { this.parts.push(b); this.length += b.length; }
  result() {
    const out = new Uint8Array(this.length);
    let pos = 0;
    for (const p of this.parts) { out.set(p, pos); pos += p.length; }
    return out;
  }
}

function checkInt(v, lo, hi) {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new ProtocolError(`value out of range: ${v}`);
  return v;
}

function checkLength(length, low, high, what) {
  if (length < low || length > high) throw new ProtocolError(low ? `${what} empty or too long` : `${what} too long`);
}

function checkStream(stream) {
  if (!Number.isInteger(stream) || stream < 0 || stream >= MAX_VIDEO_STREAMS) {
    throw new ProtocolError(`video stream ${stream} out of range`);
  }
}

function checkVideo(stream, w, h, length) {
  checkStream(stream);
  if (w > MAX_VIDEO_SIZE || h > MAX_VIDEO_SIZE) throw new ProtocolError('video rectangle too large');
  checkLength(length, 1, MAX_VIDEO_FRAME, 'video frame');
}

// ---- UPDATE operations: one entry per kind ----------------------------------------------------

const OPS = [
  {
    type: 0x01, name: 'COPY',
    decode(r) {
      const op = { sx: r.u16(), sy: r.u16(), w: r.u16(), h: r.u16(), dx: r.u16(), dy: r.u16() };
      checkRect(op.sx, op.sy, op.w, op.h);
      checkRect(op.dx, op.dy, op.w, op.h);
      return op;
    },
    encode(w, op) {
      checkRect(op.sx, op.sy, op.w, op.h);
      checkRect(op.dx, op.dy, op.w, op.h);
      for (const v of [op.sx, op.sy, op.w, op.h, op.dx, op.dy]) w.u16(v);
    },
  },
  {
    type: 0x02, name: 'FILL',
    decode(r) {
      const op = { x: r.u16(), y: r.u16(), w: r.u16(), h: r.u16(), r: r.u8(), g: r.u8(), b: r.u8() };
      checkRect(op.x, op.y, op.w, op.h);
      return op;
    },
    encode(w, op) {
      checkRect(op.x, op.y, op.w, op.h);
      for (const v of [op.x, op.y, op.w, op.h]) w.u16(v);
      w.u8(op.r); w.u8(op.g); w.u8(op.b);
    },
  },
  {
    type: 0x03, name: 'IMAGE',
    decode(r) {
      const x = r.u16(), y = r.u16(), w = r.u16(), h = r.u16(), codec = r.u8(), length = r.u32();
      checkRect(x, y, w, h);
      if (!(codec in CODEC_NAMES)) throw new ProtocolError(`unknown codec ${codec}`);
      if (length === 0) throw new ProtocolError('empty image payload');
      return { x, y, w, h, codec: CODEC_NAMES[codec], payload: r.take(length) };
    },
    encode(w, op) {
      checkRect(op.x, op.y, op.w, op.h);
      for (const v of [op.x, op.y, op.w, op.h]) w.u16(v);
      w.u8(Codec[op.codec]); w.u32(op.payload.length); w.raw(op.payload);
    },
  },
  {
    type: 0x04, name: 'VIDEO',
    decode(r) {
      const stream = r.u8(), x = r.u16(), y = r.u16(), w = r.u16(), h = r.u16();
      const codec = r.u8(), flags = r.u8(), length = r.u32();
      checkRect(x, y, w, h);
      checkVideo(stream, w, h, length);
      if (!(codec in VIDEO_CODEC_NAMES)) throw new ProtocolError(`unknown video codec ${codec}`);
      if ((flags & ~VIDEO_KEYFRAME) !== 0) throw new ProtocolError('unknown video flags');
      return {
        stream, x, y, w, h, codec: VIDEO_CODEC_NAMES[codec], keyframe: (flags & VIDEO_KEYFRAME) !== 0,
        payload: r.take(length),
      };
    },
    encode(w, op) {
      checkRect(op.x, op.y, op.w, op.h);
      checkVideo(op.stream, op.w, op.h, op.payload.length);
      w.u8(op.stream);
      for (const v of [op.x, op.y, op.w, op.h]) w.u16(v);
      w.u8(VideoCodec[op.codec]); w.u8(op.keyframe ? VIDEO_KEYFRAME : 0);
      w.u32(op.payload.length); w.raw(op.payload);
    },
  },
  {
    type: 0x05, name: 'VIDEO_END',
    decode(r) {
      const stream = r.u8();
      checkStream(stream);
      return { stream };
    },
    encode(w, op) { checkStream(op.stream); w.u8(op.stream); },
  },
];
export const OpType = Object.freeze(Object.fromEntries(OPS.map((e) => [e.name, e.type])));
const OP_BY_TYPE = new Map(OPS.map((e) => [e.type, e]));
const OP_BY_NAME = new Map(OPS.map((e) => [e.name, e]));

function decodeOp(r) {
  const kind = r.u8();
  const entry = OP_BY_TYPE.get(kind);
  if (entry === undefined) throw new ProtocolError(`unknown operation type ${kind}`);
  return { op: entry.name, ...entry.decode(r) };
}

function encodeOp(w, op) {
  const entry = OP_BY_NAME.get(op.op);
  if (entry === undefined) throw new ProtocolError(`unknown operation ${op.op}`);
  w.u8(entry.type);
  entry.encode(w, op);
}

// ---- the registry: one entry per message type -------------------------------------------------
// `decode` reads the body after the type byte, `encode` writes it; `maxSize` is the largest valid
// message, type byte included (null: only the channel's limit).

const TO_VIEWER = 'agent → viewer';
const TO_AGENT = 'viewer → agent';
const BOTH = 'both';

const REGISTRY = [
  {
    type: 0x01, name: 'HELLO', direction: BOTH, maxSize: 1 + 6,
    decode: (r) => ({ version: r.u16(), flags: r.u32() }),
    encode(w, msg) { w.u16(msg.version); w.u32(msg.flags ?? 0); },
  },
  {
    type: 0x10, name: 'DESKTOP', direction: TO_VIEWER, maxSize: 1 + 5 + MAX_MONITORS * 8,
    decode(r) {
      const width = r.u16(), height = r.u16(), count = r.u8();
      checkRect(0, 0, width, height);
      if (count < 1 || count > MAX_MONITORS) throw new ProtocolError('monitor count out of range');
      const monitors = [];
      for (let i = 0; i < count; i++) {
        const m = { x: r.i16(), y: r.i16(), w: r.u16(), h: r.u16() };
        if (m.w < 1 || m.h < 1) throw new ProtocolError('empty monitor');
        monitors.push(m);
      }
      return { width, height, monitors };
    },
    encode(w, msg) {
      if (msg.monitors.length < 1 || msg.monitors.length > MAX_MONITORS) {
        throw new ProtocolError('monitor count out of range');
      }
      checkRect(0, 0, msg.width, msg.height);
      w.u16(msg.width); w.u16(msg.height); w.u8(msg.monitors.length);
      for (const m of msg.monitors) { w.i16(m.x); w.i16(m.y); w.u16(m.w); w.u16(m.h); }
    },
  },
  {
    type: 0x11, name: 'UPDATE', direction: TO_VIEWER, maxSize: null,
    decode(r) {
      const seq = r.u32(), count = r.u16();
      if (count > MAX_OPS) throw new ProtocolError('too many operations in one update');
      const ops = [];
      for (let i = 0; i < count; i++) ops.push(decodeOp(r));
      return { seq, ops };
    },
    encode(w, msg) {
      if (msg.ops.length > MAX_OPS) throw new ProtocolError('too many operations in one update');
      w.u32(msg.seq); w.u16(msg.ops.length);
      for (const op of msg.ops) encodeOp(w, op);
    },
  },
  {
    type: 0x12, name: 'CURSOR_SHAPE', direction: TO_VIEWER, maxSize: 1 + 8 + MAX_CURSOR * MAX_CURSOR * 4,
    decode(r) {
      const w = r.u16(), h = r.u16(), hot_x = r.u16(), hot_y = r.u16();
      if (w < 1 || w > MAX_CURSOR || h < 1 || h > MAX_CURSOR || hot_x >= w || hot_y >= h) {
        throw new ProtocolError('bad cursor shape');
      }
      return { w, h, hot_x, hot_y, rgba: r.take(w * h * 4) };
    },
    encode(w, msg) {
      if (msg.rgba.length !== msg.w * msg.h * 4) throw new ProtocolError('bad cursor shape');
      w.u16(msg.w); w.u16(msg.h); w.u16(msg.hot_x); w.u16(msg.hot_y); w.raw(msg.rgba);
    },
  },
  {
    type: 0x13, name: 'CURSOR_POS', direction: TO_VIEWER, maxSize: 1 + 4,
    decode: (r) => ({ x: r.u16(), y: r.u16() }),
    encode(w, msg) { w.u16(msg.x); w.u16(msg.y); },
  },
  {
    type: 0x14, name: 'STATUS', direction: TO_VIEWER, maxSize: 1 + 3 + MAX_STATUS_BYTES,
    decode(r) {
      const code = r.u8(), length = r.u16();
      checkLength(length, 0, MAX_STATUS_BYTES, 'status detail');
      if (!(code in STATUS_NAMES)) throw new ProtocolError(`unknown status code ${code}`);
      return { code: STATUS_NAMES[code], detail: utf8(r.take(length)) };
    },
    encode(w, msg) {
      const detail = utf8Encoder.encode(msg.detail ?? '');
      checkLength(detail.length, 0, MAX_STATUS_BYTES, 'status detail');
      w.u8(StatusCode[msg.code]); w.u16(detail.length); w.raw(detail);
    },
  },
  {
    type: 0x18, name: 'KEYBOARD_LAYOUT', direction: TO_VIEWER,
    maxSize: 1 + 1 + MAX_LAYOUT_NAME_BYTES + 1 + MAX_LAYOUT_KEYS * 5,
    decode(r) {
      const nameLength = r.u8();
      checkLength(nameLength, 0, MAX_LAYOUT_NAME_BYTES, 'layout name');
      const name = utf8(r.take(nameLength));
      checkLayoutName(name);
      const count = r.u8();
      if (count > MAX_LAYOUT_KEYS) throw new ProtocolError('too many keys in a keyboard layout');
      const keys = [];
      for (let i = 0; i < count; i++) keys.push({ usage_id: r.u8(), codepoint: r.u32() });
      checkLayoutKeys(keys);
      return { name, keys };
    },
    encode(w, msg) {
      const name = utf8Encoder.encode(msg.name);
      checkLength(name.length, 0, MAX_LAYOUT_NAME_BYTES, 'layout name');
      checkLayoutName(msg.name);
      checkLayoutKeys(msg.keys);
      w.u8(name.length); w.raw(name); w.u8(msg.keys.length);
      for (const key of msg.keys) { w.u8(key.usage_id); w.u32(key.codepoint); }
    },
  },
  {
    type: 0x20, name: 'ACK', direction: TO_AGENT, maxSize: 1 + 6,
    decode: (r) => ({ seq: r.u32(), decode_ms: r.u16() }),
    encode(w, msg) { w.u32(msg.seq); w.u16(Math.min(msg.decode_ms, 0xffff)); },
  },
  {
    type: 0x21, name: 'KEY', direction: TO_AGENT, maxSize: 1 + 5,
    decode(r) {
      const usage = r.u32(), down = r.u8();
      if (down > 1) throw new ProtocolError('key state must be 0 or 1');
      return { usage, down: down === 1 };
    },
    encode(w, msg) { w.u32(msg.usage); w.u8(msg.down ? 1 : 0); },
  },
  {
    type: 0x22, name: 'POINTER', direction: TO_AGENT, maxSize: 1 + 5,
    decode: (r) => ({ x: r.u16(), y: r.u16(), buttons: r.u8() }),
    encode(w, msg) { w.u16(msg.x); w.u16(msg.y); w.u8(msg.buttons); },
  },
  {
    type: 0x23, name: 'WHEEL', direction: TO_AGENT, maxSize: 1 + 4,
    decode: (r) => ({ dx: r.i16(), dy: r.i16() }),
    encode(w, msg) { w.i16(msg.dx); w.i16(msg.dy); },
  },
  {
    type: 0x24, name: 'REFRESH', direction: TO_AGENT, maxSize: 1,
    decode: () => ({}),
    encode() {},
  },
  {
    type: 0x25, name: 'TEXT', direction: TO_AGENT, maxSize: 1 + 2 + MAX_TEXT_BYTES,
    decode(r) {
      const length = r.u16();
      checkLength(length, 1, MAX_TEXT_BYTES, 'text');
      return { text: utf8(r.take(length)) };
    },
    encode(w, msg) {
      const text = utf8Encoder.encode(msg.text);
      checkLength(text.length, 1, MAX_TEXT_BYTES, 'text');
      w.u16(text.length); w.raw(text);
    },
  },
  {
    type: 0x28, name: 'LOCKS', direction: TO_AGENT, maxSize: 1 + 2,
    decode(r) {
      const known = r.u8(), state = r.u8();
      checkLocks(known, state);
      return { known, state };
    },
    encode(w, msg) { checkLocks(msg.known, msg.state); w.u8(msg.known); w.u8(msg.state); },
  },
  {
    type: 0x30, name: 'CLIPBOARD', direction: BOTH, maxSize: 1 + 5 + MAX_CLIPBOARD_BYTES,
    decode(r) {
      const format = r.u8(), length = r.u32();
      if (format !== CLIPBOARD_TEXT) throw new ProtocolError(`unknown clipboard format ${format}`);
      checkLength(length, 0, MAX_CLIPBOARD_BYTES, 'clipboard text');
      return { text: utf8(r.take(length)) };
    },
    encode(w, msg) {
      const text = utf8Encoder.encode(msg.text);
      checkLength(text.length, 0, MAX_CLIPBOARD_BYTES, 'clipboard text');
      w.u8(CLIPBOARD_TEXT); w.u32(text.length); w.raw(text);
    },
  },
];

/** The registry as data (type byte, name, direction, largest size), for tests and tools. */
export const MESSAGES = Object.freeze(REGISTRY.map(({ type, name, direction, maxSize }) => (
  Object.freeze({ type, name, direction, maxSize }))));
export const MsgType = Object.freeze(Object.fromEntries(REGISTRY.map((e) => [e.name, e.type])));
const BY_TYPE = new Map(REGISTRY.map((e) => [e.type, e]));
const BY_NAME = new Map(REGISTRY.map((e) => [e.name, e]));
export const AGENT_TO_VIEWER = new Set(REGISTRY.filter((e) => e.direction !== TO_AGENT).map((e) => e.name));
export const VIEWER_TO_AGENT = new Set(REGISTRY.filter((e) => e.direction !== TO_VIEWER).map((e) => e.name));

// ---- entry points -----------------------------------------------------------------------------

/** Parse one message; `allowed` (a Set of type names) restricts the sender's direction. */
export function decode(data, allowed = null) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const limit = allowed === null || allowed === AGENT_TO_VIEWER ? MAX_AGENT_MESSAGE : MAX_VIEWER_MESSAGE;
  if (bytes.length > limit) throw new ProtocolError(`message of ${bytes.length} bytes exceeds the limit of ${limit}`);
  if (bytes.length === 0) throw new ProtocolError('empty message');
  const r = new Reader(bytes);
  const kind = r.u8();
  const entry = BY_TYPE.get(kind);
  if (entry === undefined) throw new ProtocolError(`unknown message type 0x${kind.toString(16).padStart(2, '0')}`);
  if (allowed !== null && !allowed.has(entry.name)) {
    throw new ProtocolError(`message type ${entry.name} not allowed in this direction`);
  }
  if (entry.maxSize !== null && bytes.length > entry.maxSize) {
    throw new ProtocolError(`${entry.name} of ${bytes.length} bytes exceeds its limit of ${entry.maxSize}`);
  }
  const msg = { type: entry.name, ...entry.decode(r) };
  r.done();
  return msg;
}

export const decodeFromAgent = (data) => decode(data, AGENT_TO_VIEWER);

/** Serialize one message object (the shape decode() returns). */
export function encode(msg) {
  const entry = BY_NAME.get(msg.type);
  if (entry === undefined) throw new ProtocolError(`cannot encode ${msg.type}`);
  const w = new Writer();
  w.u8(entry.type);
  entry.encode(w, msg);
  return w.result();
}
