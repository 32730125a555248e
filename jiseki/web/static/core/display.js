// Draws UPDATE operations onto one canvas. Images of an update are decoded in parallel
// (createImageBitmap, off the main thread in Chromium) and drawn in order; video pictures are
// decoded by their stream's decoder (core/video.js) and drawn in their place in that order.

import { CODEC_MIME } from './protocol.js';
import { VideoStreams } from './video.js';

export class Display {
  /** `onVideoError(reason)`: a video stream broke (the live viewer asks for a refresh). */
  constructor(canvas, { onVideoError = null } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.ctx.imageSmoothingEnabled = false;
    // Operations drawn, by kind and codec: shown to tests and benchmarks through the page's stats.
    // VIDEO counts pictures drawn from a video stream (`video.stats` has the decoder's figures).
    this.counts = { COPY: 0, FILL: 0, JPEG: 0, WEBP: 0, PNG: 0, VIDEO: 0, VIDEO_END: 0 };
    this.video = new VideoStreams(this.ctx, { onError: onVideoError });
  }

  /** A DESKTOP (a new session, a resume, a new screen size): no video stream goes on from before. */
  resize(width, height) {
    this.video.reset();
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
        if (op.op === 'VIDEO') {
          if (await this.video.draw(op)) this.counts.VIDEO++;
          continue;
        }
        this.counts[op.op === 'IMAGE' ? op.codec : op.op]++;
        if (op.op === 'VIDEO_END') {
          this.video.end(op.stream);
        } else if (op.op === 'COPY') {
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
