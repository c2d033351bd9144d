// The sketch pad: black ink on white paper, a few pen widths, an eraser, undo/redo and clear.
// The query is the canvas itself as a PNG (the server accepts black-on-white drawings).

import { History, trackPointer } from "./history.js";

const PAPER = "#ffffff";
const INK = "#000000";

export class SketchPad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.onChange = onChange;
    this.width = 4;
    this.erasing = false;
    this.history = new History();
    this.last = null;
    this.blank();
    trackPointer(canvas, (x, y, first) => this.stroke(x, y, first), () => this.onChange());
  }

  blank() {
    this.ctx.fillStyle = PAPER;
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  snapshot() {
    return this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }

  stroke(x, y, first) {
    const ctx = this.ctx;
    if (first) {
      this.history.push(this.snapshot());
      this.last = [x, y];
    }
    ctx.strokeStyle = ctx.fillStyle = this.erasing ? PAPER : INK;
    ctx.lineWidth = this.erasing ? this.width * 3 : this.width;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...this.last);
    ctx.lineTo(x, y);
    ctx.stroke();
    if (first) { // a click without a move still leaves a dot
      ctx.beginPath();
      ctx.arc(x, y, ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fill();
    }
    this.last = [x, y];
  }

  undo() { this.restore(this.history.undo(this.snapshot())); }
  redo() { this.restore(this.history.redo(this.snapshot())); }

  restore(image) {
    if (!image) return;
    this.ctx.putImageData(image, 0, 0);
    this.onChange();
  }

  clear() {
    this.history.push(this.snapshot());
    this.blank();
    this.onChange();
  }

  /** Whether nothing has been drawn (every pixel paper). */
  isEmpty() {
    const d = this.snapshot().data;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 200) return false;
    return true;
  }

  /** The drawing as a PNG data URL (what the URL keeps), or null when blank. */
  toDataURL() {
    return this.isEmpty() ? null : this.canvas.toDataURL("image/png");
  }

  /** Draw a saved PNG back (a shared URL); resolves once it is on the canvas. */
  async load(dataURL) {
    this.blank();
    this.history.clear();
    if (!dataURL) return;
    const img = new Image();
    img.src = dataURL;
    await img.decode();
    this.ctx.drawImage(img, 0, 0, this.canvas.width, this.canvas.height);
  }
}
