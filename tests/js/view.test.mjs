// The view geometry over many window sizes (node --test): the picture stays inside the window and
// its edges point at the office PC's edges (issue 12 item 22).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { fitView, hostPoint } from '../../jiseki/web/static/core/view.js';

const EPS = 1e-6;
const DPRS = [1, 1.25, 1.5, 1.75, 2, 2.5, 3];
const PICTURES = [
  { width: 1920, height: 1080 }, { width: 1366, height: 768 }, { width: 2560, height: 1440 },
  { width: 1280, height: 1024 }, { width: 3840, height: 2160 }, { width: 1024, height: 768 },
];
// Toolbars of one, two or three rows at the zoom levels browsers use: the stage starts on fractions.
const TOPS = [0, 33.6, 40, 77.5625, 101.25, 58.3333];

function* stages() {
  for (let width = 320; width <= 2600; width += 37) {
    for (let height = 200; height <= 1500; height += 41) {
      for (const top of TOPS) yield { left: (width % 3) * 0.3, top, width, height };
    }
  }
}

test('view: the picture never reaches outside the window, at any size, ratio and toolbar height', () => {
  let checked = 0;
  for (const picture of PICTURES) {
    const region = { x: 0, y: 0, w: picture.width, h: picture.height };
    for (const dpr of DPRS) {
      for (const stage of stages()) {
        const v = fitView(stage, dpr, picture, region);
        const { box } = v;
        const where = `${JSON.stringify(stage)} dpr ${dpr} ${picture.width}x${picture.height}`;
        assert.ok(box.left >= -EPS && box.top >= -EPS, where);
        assert.ok(box.left + box.width <= stage.width + EPS, `wider than the window: ${where}`);
        assert.ok(box.top + box.height <= stage.height + EPS, `taller than the window: ${where}`);
        if (v.crisp) {
          assert.ok(Math.abs(box.width * dpr - picture.width) < EPS, where);
          for (const edge of [stage.left + box.left, stage.top + box.top]) {
            assert.ok(Math.abs(edge * dpr - Math.round(edge * dpr)) < EPS, `not on a device pixel: ${where}`);
          }
        } else {
          // Scaled: as large as the window allows (to a 1/64 px), aspect ratio kept.
          const fill = Math.max(box.width / stage.width, box.height / stage.height);
          assert.ok(fill > 1 - 2 / 64 / Math.min(stage.width, stage.height) - EPS, where);
          assert.ok(Math.abs(box.width / box.height - picture.width / picture.height) < 0.01, where);
        }
        checked++;
      }
    }
  }
  assert.ok(checked > 100000);
});

test('view: the bottom-most and right-most device pixels point at the last row and column', () => {
  for (const picture of PICTURES) {
    const region = { x: 0, y: 0, w: picture.width, h: picture.height };
    for (const dpr of DPRS) {
      for (const stage of [{ left: 0, top: 77.5625, width: 800, height: 482.4375 }, { left: 0, top: 40, width: 1366, height: 728 },
        { left: 0, top: 33.6, width: 640, height: 400 }, { left: 0.3, top: 101.25, width: 2000, height: 1300 }]) {
        const { box } = fitView(stage, dpr, picture, region);
        const shown = { left: stage.left + box.left, top: stage.top + box.top, width: box.width, height: box.height };
        const px = 1 / dpr;
        const last = hostPoint(shown.left + shown.width - px / 2, shown.top + shown.height - px / 2, shown, region, dpr);
        assert.deepEqual(last, [picture.width - 1, picture.height - 1]);
        assert.deepEqual(hostPoint(shown.left + px / 2, shown.top + px / 2, shown, region, dpr), [0, 0]);
        // Every device pixel in between maps into the picture, in order.
        let previous = -1;
        for (let y = shown.top + px / 2; y < shown.top + shown.height; y += px) {
          const [, row] = hostPoint(shown.left, y, shown, region, dpr);
          assert.ok(row >= previous && row >= 0 && row < picture.height);
          previous = row;
        }
        assert.equal(previous, picture.height - 1);
      }
    }
  }
});

test('view: a point in a monitor region maps into that monitor', () => {
  const region = { x: 1280, y: 0, w: 1280, h: 1024 };
  const shown = { left: 10, top: 50, width: 640, height: 512 };
  assert.deepEqual(hostPoint(10, 50, shown, region, 1), [1280, 0]);
  assert.deepEqual(hostPoint(649.5, 561.5, shown, region, 1), [2559, 1023]);
  assert.deepEqual(hostPoint(5000, -20, shown, region, 1), [2559, 0]);
});
