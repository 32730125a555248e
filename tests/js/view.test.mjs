// The view geometry over many window sizes (node --test): the picture stays inside the window and
// its edges point at the office PC's edges (issue 12 item 22); zoom, edge panning and layout names
// (item 25).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { fitView, hostPoint } from '../../jiseki/web/static/core/view.js';
import { edgePan, zoomView } from '../../jiseki/web/static/core/zoom.js';
import { layoutLabel } from '../../jiseki/web/static/core/layout.js';

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

// ---- zoom and edge panning (issue 12 item 25) ---------------------------------------------

test('zoom: 100 % shows desktop pixels unscaled on a 1366x768 laptop and scrolls', () => {
  const picture = { width: 1920, height: 1080 };
  const region = { x: 0, y: 0, w: 1920, h: 1080 };
  const stage = { left: 0, top: 40, width: 1366, height: 728 };
  const fit = zoomView(stage, 1, picture, region, 'fit');
  assert.ok(fit.scale < 0.72 && !fit.scrolls);
  const v = zoomView(stage, 1, picture, region, '100');
  assert.equal(v.crisp, true);
  assert.equal(v.scale, 1);
  assert.deepEqual([v.box.left, v.box.top, v.box.width, v.box.height], [0, 0, 1920, 1080]);
  assert.equal(v.scrolls, true);
  // High DPI: 100 % is one device pixel per desktop pixel.
  const hi = zoomView({ left: 0, top: 40, width: 1280, height: 760 }, 1.5, picture, region, '100');
  assert.ok(Math.abs(hi.box.width * 1.5 - 1920) < 1e-9 && !hi.scrolls);
  assert.equal(zoomView(stage, 1, picture, region, '200').box.width, 3840);
  assert.equal(zoomView(stage, 1, picture, region, '75').crisp, false);
  assert.equal(zoomView(stage, 1, picture, region, 'bogus').scrolls, false); // unknown: fit
});

test('zoom: a zoomed picture smaller than the window is centred, on device pixels when crisp', () => {
  const picture = { width: 1024, height: 768 };
  const region = { x: 0, y: 0, w: 1024, h: 768 };
  for (const dpr of DPRS) {
    for (const stage of stages()) {
      for (const z of ['50', '75', '100', '125', '150', '200']) {
        const v = zoomView(stage, dpr, picture, region, z);
        const fitsW = v.box.width <= stage.width + EPS;
        const fitsH = v.box.height <= stage.height + EPS;
        assert.equal(v.scrolls, !(fitsW && fitsH));
        if (fitsW) assert.ok(v.box.left >= -EPS && v.box.left + v.box.width <= stage.width + EPS);
        else assert.equal(v.box.left, 0);
        if (fitsH) assert.ok(v.box.top >= -EPS && v.box.top + v.box.height <= stage.height + EPS);
        else assert.equal(v.box.top, 0);
      }
    }
  }
});

test('edge panning: towards the edge the pointer is near, faster nearer to it, never past the end', () => {
  const viewport = { left: 0, top: 40, width: 1366, height: 728 };
  const room = { left: 0, right: 554, up: 0, down: 352 };
  assert.deepEqual(edgePan(683, 400, viewport, room), { dx: 0, dy: 0 }); // the middle: still
  const corner = edgePan(1365, 767, viewport, room);
  assert.ok(corner.dx > 0 && corner.dy > 0);
  assert.equal(edgePan(1340, 400, viewport, room).dx < corner.dx, true);
  assert.deepEqual(edgePan(1, 41, viewport, room), { dx: 0, dy: 0 }); // already at the start
  assert.deepEqual(edgePan(1365, 767, viewport, { left: 554, right: 0, up: 352, down: 0 }), { dx: 0, dy: 0 });
  assert.equal(edgePan(1365, 400, viewport, { ...room, right: 3 }).dx, 3);
  // Panning until it stops reaches the bottom-right corner, and the pointer then points at it.
  const scroll = { x: 0, y: 0 };
  const max = { x: 1920 - 1366, y: 1080 - 728 };
  for (let i = 0; i < 1000; i++) {
    const v = edgePan(1365.5, 767.5, viewport, { left: scroll.x, right: max.x - scroll.x, up: scroll.y, down: max.y - scroll.y });
    if (!v.dx && !v.dy) break;
    scroll.x += v.dx;
    scroll.y += v.dy;
  }
  assert.deepEqual(scroll, max);
  const shown = { left: -scroll.x, top: 40 - scroll.y, width: 1920, height: 1080 };
  assert.deepEqual(hostPoint(1365.5, 767.5, shown, { x: 0, y: 0, w: 1920, h: 1080 }, 1), [1919, 1079]);
});

test('layout names a person knows: XKB and Windows layout ids', () => {
  assert.deepEqual(layoutLabel('pc105/us'), { key: 'layout.us', variant: '' });
  assert.deepEqual(layoutLabel('jp106/jp'), { key: 'layout.jp', variant: '' });
  assert.deepEqual(layoutLabel('pc105/us(dvorak)'), { key: 'layout.us', variant: 'dvorak' });
  assert.deepEqual(layoutLabel('00000411'), { key: 'layout.jp', variant: '' });
  assert.deepEqual(layoutLabel('00000409'), { key: 'layout.us', variant: '' });
  assert.equal(layoutLabel('00010409'), null); // a variant id (US-Dvorak): shown by its name
  assert.equal(layoutLabel('pc105/ru'), null);
  assert.equal(layoutLabel(''), null);
});
