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

/**
 * Layout of the picture inside the stage.
 * stage: { left, top, width, height } in CSS px (its bounding rectangle); dpr: devicePixelRatio;
 * picture: { width, height } in desktop px; region: { x, y, w, h } of the picture to show.
 * Returns the clipping box (CSS px, relative to the stage), the canvas position inside it and its
 * CSS size, the scale (CSS px per desktop px) and whether pixels are shown 1:1 (crisp).
 */
export function fitView(stage, dpr, picture, region) {
  const crisp = region.w <= stage.width * dpr + 1e-6 && region.h <= stage.height * dpr + 1e-6;
  const scale = crisp ? 1 / dpr : Math.min(stage.width / region.w, stage.height / region.h);
  const boxW = region.w * scale;
  const boxH = region.h * scale;
  // Centre, then snap the box's absolute position to a device pixel so 1:1 stays 1:1.
  const snap = (v) => Math.round(v * dpr) / dpr;
  const left = snap(stage.left + (stage.width - boxW) / 2) - stage.left;
  const top = snap(stage.top + (stage.height - boxH) / 2) - stage.top;
  return {
    box: { left, top, width: boxW, height: boxH },
    canvas: { left: -region.x * scale, top: -region.y * scale, width: picture.width * scale, height: picture.height * scale },
    scale,
    crisp,
  };
}
