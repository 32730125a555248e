// The jiseki display protocol in JavaScript: the mirror of jiseki/protocol/codec.py.
// Pure functions (bytes in, objects out), checked against tests/vectors/ like the Python side.

export const PROTOCOL_VERSION = 1;

export const MsgType = Object.freeze({
  HELLO: 0x01,
  DESKTOP: 0x10, UPDATE: 0x11, CURSOR_SHAPE: 0x12, CURSOR_POS: 0x13, STATUS: 0x14,
  ACK: 0x20, KEY: 0x21, POINTER: 0x22, WHEEL: 0x23, REFRESH: 0x24, TEXT: 0x25,
  CLIPBOARD: 0x30,
});
const TYPE_NAMES = Object.fromEntries(Object.entries(MsgType).map(([k, v]) => [v, k]));

export const OpType = Object.freeze({ COPY: 0x01, FILL: 0x02, IMAGE: 0x03 });
export const Codec = Object.freeze({ JPEG: 1, WEBP: 2, PNG: 3 });
const CODEC_NAMES = Object.fromEntries(Object.entries(Codec).map(([k, v]) => [v, k]));
export const CODEC_MIME = Object.freeze({ JPEG: 'image/jpeg', WEBP: 'image/webp', PNG: 'image/png' });
export const StatusCode = Object.freeze({
  WAITING_FOR_HOST: 1, HOST_CONNECTED: 2, HOST_OFFLINE: 3, SESSION_ENDED: 4, WARNING: 5,
});
const STATUS_NAMES = Object.fromEntries(Object.entries(StatusCode).map(([k, v]) => [v, k]));

export const AGENT_TO_VIEWER = new Set(['HELLO', 'DESKTOP', 'UPDATE', 'CURSOR_SHAPE', 'CURSOR_POS', 'STATUS', 'CLIPBOARD']);
export const VIEWER_TO_AGENT = new Set(['HELLO', 'ACK', 'KEY', 'POINTER', 'WHEEL', 'REFRESH', 'TEXT', 'CLIPBOARD']);

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

function decodeOp(r) {
  const kind = r.u8();
  if (kind === OpType.COPY) {
    const op = { op: 'COPY', sx: r.u16(), sy: r.u16(), w: r.u16(), h: r.u16(), dx: r.u16(), dy: r.u16() };
    checkRect(op.sx, op.sy, op.w, op.h);
    checkRect(op.dx, op.dy, op.w, op.h);
    return op;
  }
  if (kind === OpType.FILL) {
    const op = { op: 'FILL', x: r.u16(), y: r.u16(), w: r.u16(), h: r.u16(), r: r.u8(), g: r.u8(), b: r.u8() };
    checkRect(op.x, op.y, op.w, op.h);
    return op;
  }
  if (kind === OpType.IMAGE) {
    const x = r.u16(), y = r.u16(), w = r.u16(), h = r.u16(), codec = r.u8(), length = r.u32();
    checkRect(x, y, w, h);
    if (!(codec in CODEC_NAMES)) throw new ProtocolError(`unknown codec ${codec}`);
    if (length === 0) throw new ProtocolError('empty image payload');
    return { op: 'IMAGE', x, y, w, h, codec: CODEC_NAMES[codec], payload: r.take(length) };
  }
  throw new ProtocolError(`unknown operation type ${kind}`);
}

function decodeBody(type, r) {
  switch (type) {
    case 'HELLO': return { type, version: r.u16(), flags: r.u32() };
    case 'DESKTOP': {
      const width = r.u16(), height = r.u16(), count = r.u8();
      checkRect(0, 0, width, height);
      if (count < 1 || count > MAX_MONITORS) throw new ProtocolError('monitor count out of range');
      const monitors = [];
      for (let i = 0; i < count; i++) {
        const m = { x: r.i16(), y: r.i16(), w: r.u16(), h: r.u16() };
        if (m.w < 1 || m.h < 1) throw new ProtocolError('empty monitor');
        monitors.push(m);
      }
      return { type, width, height, monitors };
    }
    case 'UPDATE': {
      const seq = r.u32(), count = r.u16();
      if (count > MAX_OPS) throw new ProtocolError('too many operations in one update');
      const ops = [];
      for (let i = 0; i < count; i++) ops.push(decodeOp(r));
      return { type, seq, ops };
    }
    case 'CURSOR_SHAPE': {
      const w = r.u16(), h = r.u16(), hot_x = r.u16(), hot_y = r.u16();
      if (w < 1 || w > MAX_CURSOR || h < 1 || h > MAX_CURSOR || hot_x >= w || hot_y >= h) {
        throw new ProtocolError('bad cursor shape');
      }
      return { type, w, h, hot_x, hot_y, rgba: r.take(w * h * 4) };
    }
    case 'CURSOR_POS': return { type, x: r.u16(), y: r.u16() };
    case 'STATUS': {
      const code = r.u8(), length = r.u16();
      if (length > MAX_STATUS_BYTES) throw new ProtocolError('status detail too long');
      if (!(code in STATUS_NAMES)) throw new ProtocolError(`unknown status code ${code}`);
      return { type, code: STATUS_NAMES[code], detail: utf8(r.take(length)) };
    }
    case 'ACK': return { type, seq: r.u32(), decode_ms: r.u16() };
    case 'KEY': {
      const usage = r.u32(), down = r.u8();
      if (down > 1) throw new ProtocolError('key state must be 0 or 1');
      return { type, usage, down: down === 1 };
    }
    case 'POINTER': return { type, x: r.u16(), y: r.u16(), buttons: r.u8() };
    case 'WHEEL': return { type, dx: r.i16(), dy: r.i16() };
    case 'REFRESH': return { type };
    case 'TEXT': {
      const length = r.u16();
      if (length < 1 || length > MAX_TEXT_BYTES) throw new ProtocolError('text empty or too long');
      return { type, text: utf8(r.take(length)) };
    }
    case 'CLIPBOARD': {
      const format = r.u8(), length = r.u32();
      if (format !== CLIPBOARD_TEXT) throw new ProtocolError(`unknown clipboard format ${format}`);
      if (length > MAX_CLIPBOARD_BYTES) throw new ProtocolError('clipboard text too long');
      return { type, text: utf8(r.take(length)) };
    }
    default: throw new ProtocolError(`unhandled message type ${type}`);
  }
}

/** Parse one message; `allowed` (a Set of type names) restricts the sender's direction. */
export function decode(data, allowed = null) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const limit = allowed === null || allowed === AGENT_TO_VIEWER ? MAX_AGENT_MESSAGE : MAX_VIEWER_MESSAGE;
  if (bytes.length > limit) throw new ProtocolError(`message of ${bytes.length} bytes exceeds the limit of ${limit}`);
  if (bytes.length === 0) throw new ProtocolError('empty message');
  const r = new Reader(bytes);
  const kind = r.u8();
  const type = TYPE_NAMES[kind];
  if (type === undefined) throw new ProtocolError(`unknown message type 0x${kind.toString(16).padStart(2, '0')}`);
  if (allowed !== null && !allowed.has(type)) throw new ProtocolError(`message type ${type} not allowed in this direction`);
  const msg = decodeBody(type, r);
  r.done();
  return msg;
}

export const decodeFromAgent = (data) => decode(data, AGENT_TO_VIEWER);

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

function encodeOp(w, op) {
  if (op.op === 'COPY') {
    checkRect(op.sx, op.sy, op.w, op.h);
    checkRect(op.dx, op.dy, op.w, op.h);
    w.u8(OpType.COPY);
    for (const v of [op.sx, op.sy, op.w, op.h, op.dx, op.dy]) w.u16(v);
  } else if (op.op === 'FILL') {
    checkRect(op.x, op.y, op.w, op.h);
    w.u8(OpType.FILL);
    for (const v of [op.x, op.y, op.w, op.h]) w.u16(v);
    w.u8(op.r); w.u8(op.g); w.u8(op.b);
  } else if (op.op === 'IMAGE') {
    checkRect(op.x, op.y, op.w, op.h);
    w.u8(OpType.IMAGE);
    for (const v of [op.x, op.y, op.w, op.h]) w.u16(v);
    w.u8(Codec[op.codec]); w.u32(op.payload.length); w.raw(op.payload);
  } else {
    throw new ProtocolError(`unknown operation ${op.op}`);
  }
}

/** Serialize one message object (the shape decode() returns). */
export function encode(msg) {
  const w = new Writer();
  const kind = MsgType[msg.type];
  if (kind === undefined) throw new ProtocolError(`cannot encode ${msg.type}`);
  w.u8(kind);
  switch (msg.type) {
    case 'HELLO': w.u16(msg.version); w.u32(msg.flags ?? 0); break;
    case 'DESKTOP':
      if (msg.monitors.length < 1 || msg.monitors.length > MAX_MONITORS) throw new ProtocolError('monitor count out of range');
      checkRect(0, 0, msg.width, msg.height);
      w.u16(msg.width); w.u16(msg.height); w.u8(msg.monitors.length);
      for (const m of msg.monitors) { w.i16(m.x); w.i16(m.y); w.u16(m.w); w.u16(m.h); }
      break;
    case 'UPDATE':
      if (msg.ops.length > MAX_OPS) throw new ProtocolError('too many operations in one update');
      w.u32(msg.seq); w.u16(msg.ops.length);
      for (const op of msg.ops) encodeOp(w, op);
      break;
    case 'CURSOR_SHAPE':
      if (msg.rgba.length !== msg.w * msg.h * 4) throw new ProtocolError('bad cursor shape');
      w.u16(msg.w); w.u16(msg.h); w.u16(msg.hot_x); w.u16(msg.hot_y); w.raw(msg.rgba);
      break;
    case 'CURSOR_POS': w.u16(msg.x); w.u16(msg.y); break;
    case 'STATUS': {
      const detail = utf8Encoder.encode(msg.detail ?? '');
      if (detail.length > MAX_STATUS_BYTES) throw new ProtocolError('status detail too long');
      w.u8(StatusCode[msg.code]); w.u16(detail.length); w.raw(detail);
      break;
    }
    case 'ACK': w.u32(msg.seq); w.u16(Math.min(msg.decode_ms, 0xffff)); break;
    case 'KEY': w.u32(msg.usage); w.u8(msg.down ? 1 : 0); break;
    case 'POINTER': w.u16(msg.x); w.u16(msg.y); w.u8(msg.buttons); break;
    case 'WHEEL': w.i16(msg.dx); w.i16(msg.dy); break;
    case 'REFRESH': break;
    case 'TEXT': {
      const text = utf8Encoder.encode(msg.text);
      if (text.length < 1 || text.length > MAX_TEXT_BYTES) throw new ProtocolError('text empty or too long');
      w.u16(text.length); w.raw(text);
      break;
    }
    case 'CLIPBOARD': {
      const text = utf8Encoder.encode(msg.text);
      if (text.length > MAX_CLIPBOARD_BYTES) throw new ProtocolError('clipboard text too long');
      w.u8(CLIPBOARD_TEXT); w.u32(text.length); w.raw(text);
      break;
    }
    default: throw new ProtocolError(`cannot encode ${msg.type}`);
  }
  return w.result();
}
