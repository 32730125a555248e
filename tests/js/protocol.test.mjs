// The JavaScript codec against the same vectors as the Python one (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import {
  decode, decodeFromAgent, encode, ProtocolError, AGENT_TO_VIEWER, VIEWER_TO_AGENT,
} from '../../jiseki/web/static/core/protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
const vectors = join(here, '..', 'vectors');
const valid = JSON.parse(readFileSync(join(vectors, 'valid.json'), 'utf-8'));
const invalid = JSON.parse(readFileSync(join(vectors, 'invalid.json'), 'utf-8'));

const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

// JSON form of a decoded message: byte fields as hex, like the Python jsonform module.
function toJson(msg) {
  const out = {};
  for (const [k, v] of Object.entries(msg)) {
    if (v instanceof Uint8Array) out[k] = toHex(v);
    else if (Array.isArray(v)) out[k] = v.map(toJson);
    else out[k] = v;
  }
  return out;
}

function fromJson(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'payload' || k === 'rgba') out[k] = fromHex(v);
    else if (Array.isArray(v)) out[k] = v.map(fromJson);
    else out[k] = v;
  }
  return out;
}

for (const vector of valid) {
  test(`valid: ${vector.name}`, () => {
    const decoded = decode(fromHex(vector.hex));
    assert.deepEqual(toJson(decoded), vector.message);
    assert.equal(toHex(encode(fromJson(vector.message))), vector.hex);
  });
}

const decoders = {
  any: (b) => decode(b),
  viewer: (b) => decode(b, VIEWER_TO_AGENT),
  agent: (b) => decode(b, AGENT_TO_VIEWER),
};

for (const vector of invalid) {
  test(`invalid: ${vector.name}`, () => {
    assert.throws(() => decoders[vector.direction](fromHex(vector.hex)), ProtocolError);
  });
}

test('random bytes give a message or ProtocolError, never another error', () => {
  let seed = 12345;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  const kinds = [0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x30];
  for (let i = 0; i < 20000; i++) {
    const len = rand() % 64;
    const bytes = new Uint8Array(len + 1);
    bytes[0] = i % 3 === 0 ? rand() % 256 : kinds[rand() % kinds.length];
    for (let j = 1; j <= len; j++) bytes[j] = rand() % 256;
    try {
      const msg = decode(bytes);
      assert.equal(toHex(encode(msg)), toHex(bytes)); // what parses re-encodes to the same bytes
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
    }
  }
});

test('decodeFromAgent refuses viewer messages', () => {
  assert.throws(() => decodeFromAgent(fromHex('210007000401')), ProtocolError);
});

test('the key table the viewer loads is the protocol package file', () => {
  const table = JSON.parse(readFileSync(join(here, '..', '..', 'jiseki', 'protocol', 'keycodes.json'), 'utf-8'));
  assert.equal(table.page, 7);
  assert.equal(table.codes.KeyA, 0x04);
  assert.equal(table.codes.IntlRo, 0x87);
  assert.equal(table.codes.IntlYen, 0x89);
  assert.equal(table.codes.Convert, 0x8a);
  assert.equal(table.codes.NonConvert, 0x8b);
  assert.equal(table.codes.KanaMode, 0x88);
});
