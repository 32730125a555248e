// Zoom of the office PC's picture, pure geometry (node's tests check it). 'fit' is core/view.js:
// 1:1 when there is room, else scaled down to the window. A percentage counts device pixels of the
// terminal per desktop pixel: 100 % shows the office PC's pixels unscaled (crisp, like 200 %) even
// when the window is smaller; the stage then scrolls, with scrollbars and by moving the pointer
// near an edge (as VNC viewers' edge scrolling does).

import { alignedOffset, fitView } from './view.js';

export const ZOOMS = ['fit', '50', '75', '100', '125', '150', '200'];
const EPS = 1e-6;

/**
 * Layout at `zoom` ('fit' or a percentage as a string); the arguments are fitView's. Returns
 * fitView's fields and `scrolls`: the box is larger than the stage (stage: its client area).
 */
export function zoomView(stage, dpr, picture, region, zoom) {
  if (zoom === 'fit' || !ZOOMS.includes(zoom)) return { ...fitView(stage, dpr, picture, region), scrolls: false };
  const z = Number(zoom) / 100;
  const crisp = Number.isInteger(z);
  const scale = z / dpr; // CSS px per desktop px
  const boxW = region.w * scale;
  const boxH = region.h * scale;
  const place = (start, size, length) => {
    if (length > size + EPS) return 0; // larger than the stage: scrolled, from its start
    return crisp ? alignedOffset(start, size, length, dpr) : (size - length) / 2;
  };
  return {
    box: { left: place(stage.left, stage.width, boxW), top: place(stage.top, stage.height, boxH), width: boxW, height: boxH },
    canvas: { left: -region.x * scale, top: -region.y * scale, width: picture.width * scale, height: picture.height * scale },
    scale,
    crisp,
    scrolls: boxW > stage.width + EPS || boxH > stage.height + EPS,
  };
}

export const EDGE_PX = 40; // the edge zone, CSS px
export const EDGE_SPEED = 24; // CSS px per frame at the very edge

/**
 * How far to scroll per frame for a pointer at (x, y) over a scrolling stage whose visible area is
 * `viewport` ({ left, top, width, height }, CSS px): within EDGE_PX of a side, towards that side,
 * faster nearer to it; 0 elsewhere. `room`: { left, right, up, down } px the stage can still
 * scroll (no speed towards a side that is already reached).
 */
export function edgePan(x, y, viewport, room) {
  const axis = (p, start, size, less, more) => {
    const fromStart = p - start;
    const fromEnd = start + size - p;
    if (fromStart < EDGE_PX && fromStart <= fromEnd && less > 0) {
      return -Math.min(less, Math.ceil(EDGE_SPEED * (1 - Math.max(0, fromStart) / EDGE_PX)));
    }
    if (fromEnd < EDGE_PX && more > 0) return Math.min(more, Math.ceil(EDGE_SPEED * (1 - Math.max(0, fromEnd) / EDGE_PX)));
    return 0;
  };
  return {
    dx: axis(x, viewport.left, viewport.width, room.left, room.right),
    dy: axis(y, viewport.top, viewport.height, room.up, room.down),
  };
}
