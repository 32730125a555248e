// The viewer's registry: one entry per message type, each with a vector (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import {
  MESSAGES, MsgType, AGENT_TO_VIEWER, VIEWER_TO_AGENT, decode, encode, ProtocolError,
} from '../../jiseki/web/static/core/protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
const valid = JSON.parse(readFileSync(join(here, '..', 'vectors', 'valid.json'), 'utf-8'));
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

test('registry: type bytes and names are unique, and MsgType is derived from them', () => {
  assert.equal(new Set(MESSAGES.map((m) => m.type)).size, MESSAGES.length);
  assert.equal(new Set(MESSAGES.map((m) => m.name)).size, MESSAGES.length);
  assert.deepEqual(MsgType, Object.fromEntries(MESSAGES.map((m) => [m.name, m.type])));
});

test('registry: every message type has a valid vector that decodes to it', () => {
  for (const entry of MESSAGES) {
    const vectors = valid.filter((v) => v.message.type === entry.name);
    assert.ok(vectors.length > 0, `no vector for ${entry.name}`);
    for (const v of vectors) assert.equal(decode(fromHex(v.hex)).type, entry.name);
  }
});

test('registry: the direction sets follow the entries', () => {
  for (const entry of MESSAGES) {
    assert.equal(AGENT_TO_VIEWER.has(entry.name), entry.direction !== 'viewer → agent', entry.name);
    assert.equal(VIEWER_TO_AGENT.has(entry.name), entry.direction !== 'agent → viewer', entry.name);
  }
});

test('registry: a message longer than its type allows is refused before it is read', () => {
  const key = encode({ type: 'KEY', usage: 0x00070004, down: true });
  const entry = MESSAGES.find((m) => m.name === 'KEY');
  assert.equal(key.length, entry.maxSize);
  const longer = new Uint8Array(key.length + 1);
  longer.set(key);
  assert.throws(() => decode(longer), (err) => err instanceof ProtocolError && /exceeds its limit/.test(err.message));
});
