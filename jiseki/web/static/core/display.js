// Draws UPDATE operations onto one canvas. Images of an update are decoded in parallel
// (createImageBitmap, off the main thread in Chromium) and drawn in order.

import { CODEC_MIME } from './protocol.js';

export class Display {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.ctx.imageSmoothingEnabled = false;
    // Operations drawn, by kind and codec: shown to tests and benchmarks through the page's stats.
    this.counts = { COPY: 0, FILL: 0, JPEG: 0, WEBP: 0, PNG: 0 };
  }

  resize(width, height) {
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.ctx.imageSmoothingEnabled = false;
    }
  }

  /** Apply one update; resolves once every operation is drawn. */
  async apply(update) {
    const decoded = update.ops.map((op) =>
      op.op === 'IMAGE'
        ? createImageBitmap(new Blob([op.payload], { type: CODEC_MIME[op.codec] }), {
            colorSpaceConversion: 'none', premultiplyAlpha: 'none',
          })
        : null,
    );
    const ctx = this.ctx;
    try {
      for (let i = 0; i < update.ops.length; i++) {
        const op = update.ops[i];
        this.counts[op.op === 'IMAGE' ? op.codec : op.op]++;
        if (op.op === 'COPY') {
          ctx.drawImage(this.canvas, op.sx, op.sy, op.w, op.h, op.dx, op.dy, op.w, op.h);
        } else if (op.op === 'FILL') {
          ctx.fillStyle = `rgb(${op.r},${op.g},${op.b})`;
          ctx.fillRect(op.x, op.y, op.w, op.h);
        } else {
          const bitmap = await decoded[i];
          ctx.drawImage(bitmap, 0, 0, op.w, op.h, op.x, op.y, op.w, op.h);
          bitmap.close();
        }
      }
    } finally {
      // Release bitmaps of images not drawn because an earlier one failed.
      for (const p of decoded) if (p) p.then((b) => b.close(), () => {});
    }
  }
}
