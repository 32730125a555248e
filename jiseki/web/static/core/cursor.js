// The office PC's pointer shape, drawn by the browser itself as the canvas's CSS cursor: the
// local pointer then moves at once, without waiting for the host to draw it.

const MAX_CSS_CURSOR = 128; // Chromium ignores larger cursor images

/** A CSS `cursor` value for a CURSOR_SHAPE message ({w, h, hot_x, hot_y, rgba}). */
export function cursorStyle(shape, doc = document) {
  if (shape.w > MAX_CSS_CURSOR || shape.h > MAX_CSS_CURSOR) return 'default';
  let visible = false;
  for (let i = 3; i < shape.rgba.length; i += 4) if (shape.rgba[i] !== 0) { visible = true; break; }
  if (!visible) return 'none'; // the host hides its pointer (e.g. while typing in a terminal)
  const canvas = doc.createElement('canvas');
  canvas.width = shape.w;
  canvas.height = shape.h;
  const ctx = canvas.getContext('2d');
  ctx.putImageData(new ImageData(new Uint8ClampedArray(shape.rgba), shape.w, shape.h), 0, 0);
  return `url(${canvas.toDataURL('image/png')}) ${shape.hot_x} ${shape.hot_y}, default`;
}
