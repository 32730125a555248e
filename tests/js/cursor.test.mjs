// The host cursor shape as a CSS cursor: the branches that need no DOM (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { cursorStyle } from '../../jiseki/web/static/core/cursor.js';

test('a fully transparent shape hides the pointer', () => {
  const shape = { w: 2, h: 2, hot_x: 0, hot_y: 0, rgba: new Uint8Array(16) };
  assert.equal(cursorStyle(shape, null), 'none');
});

test('a shape larger than browsers accept falls back to the default pointer', () => {
  const shape = { w: 200, h: 10, hot_x: 0, hot_y: 0, rgba: new Uint8Array(200 * 10 * 4).fill(255) };
  assert.equal(cursorStyle(shape, null), 'default');
});

test('a visible shape becomes an image with its hotspot', () => {
  const drawn = [];
  const doc = {
    createElement: () => ({
      getContext: () => ({ putImageData: (img) => drawn.push(img) }),
      toDataURL: () => 'data:image/png;base64,AAAA',
    }),
  };
  globalThis.ImageData ??= class { constructor(data, w, h) { Object.assign(this, { data, w, h }); } };
  const rgba = new Uint8Array(3 * 2 * 4);
  rgba[3] = 255;
  assert.equal(cursorStyle({ w: 3, h: 2, hot_x: 1, hot_y: 1, rgba }, doc), 'url(data:image/png;base64,AAAA) 1 1, default');
  assert.equal(drawn.length, 1);
});
