// Where and how large the office PC's picture is shown. Pure geometry: node's tests check it.
//
// When the window has room, one desktop pixel is one device pixel of the terminal (crisp at any
// devicePixelRatio: 1.25, 1.5, 2...), placed on a whole device pixel; otherwise the picture is
// scaled down smoothly to fit. A monitor of a multi-monitor host can be shown alone: the canvas
// keeps the whole desktop and a clipping box shows that monitor's part of it.

/** The region of the picture a monitor covers (picture origin = the desktop's top-left corner). */
export function monitorRegions(desktop) {
  const originX = Math.min(0, ...desktop.monitors.map((m) => m.x));
  const originY = Math.min(0, ...desktop.monitors.map((m) => m.y));
  return desktop.monitors.map((m) => ({ x: m.x - originX, y: m.y - originY, w: m.w, h: m.h }));
}

const EPS = 1e-6;
// Layout positions are multiples of 1/64 CSS px: a scaled box is rounded down to them so that the
// browser cannot round it out of the stage.
const down64 = (v) => Math.floor(v * 64 + EPS) / 64;

/** Whether `n` device pixels fit in [start, start + size) CSS px starting on a whole device pixel. */
function fitsAligned(start, size, n, dpr) {
  return Math.ceil(start * dpr - EPS) + n <= Math.floor((start + size) * dpr + EPS);
}

/**
 * Offset (CSS px, from `start`) of a 1:1 box of `length` CSS px inside [start, start + size): on the
 * whole device pixel nearest the centred position that keeps it inside.
 */
export function alignedOffset(start, size, length, dpr) {
  const centred = start + (size - length) / 2;
  const lo = Math.ceil(start * dpr - EPS);
  const hi = Math.floor((start + size - length) * dpr + EPS);
  return Math.min(hi, Math.max(lo, Math.round(centred * dpr))) / dpr - start;
}

/**
 * Layout of the picture inside the stage.
 * stage: { left, top, width, height } in CSS px (its bounding rectangle); dpr: devicePixelRatio;
 * picture: { width, height } in desktop px; region: { x, y, w, h } of the picture to show.
 * Returns the clipping box (CSS px, relative to the stage), the canvas position inside it and its
 * CSS size, the scale (CSS px per desktop px) and whether pixels are shown 1:1 (crisp).
 * The box never reaches outside the stage (issue 12 item 22: a box snapped to a device pixel
 * was 0.44 px taller than the window, hiding the office PC's bottom row).
 */
export function fitView(stage, dpr, picture, region) {
  const crisp = fitsAligned(stage.left, stage.width, region.w, dpr) && fitsAligned(stage.top, stage.height, region.h, dpr);
  let sx;
  let sy;
  if (crisp) {
    sx = sy = 1 / dpr;
  } else {
    const scale = Math.min(stage.width / region.w, stage.height / region.h);
    sx = down64(region.w * scale) / region.w;
    sy = down64(region.h * scale) / region.h;
  }
  const boxW = region.w * sx;
  const boxH = region.h * sy;
  // Centred; 1:1 boxes on the device pixel nearest the centre that keeps them inside.
  const place = (start, size, length) =>
    crisp ? alignedOffset(start, size, length, dpr) : Math.max(0, down64((size - length) / 2));
  return {
    box: { left: place(stage.left, stage.width, boxW), top: place(stage.top, stage.height, boxH), width: boxW, height: boxH },
    canvas: { left: -region.x * sx, top: -region.y * sy, width: picture.width * sx, height: picture.height * sy },
    scale: sx,
    crisp,
  };
}

/**
 * The desktop pixel under a pointer at (clientX, clientY). `shown`: where the region is on the page
 * ({ left, top, width, height }, CSS px, as the browser lays it out); region: { x, y, w, h }.
 * Scaled down, a device pixel covers several desktop pixels: the first and last device pixels of
 * the picture point at the region's first and last row / column, so every edge of the office PC's
 * screen can be reached.
 */
export function hostPoint(clientX, clientY, shown, region, dpr) {
  const axis = (c, start, size, first, count) => {
    const offset = c - start;
    if (offset < 1 / dpr) return first;
    if (offset >= size - 1 / dpr) return first + count - 1;
    return first + Math.min(count - 1, Math.max(0, Math.floor((offset * count) / size)));
  };
  return [axis(clientX, shown.left, shown.width, region.x, region.w), axis(clientY, shown.top, shown.height, region.y, region.h)];
}
