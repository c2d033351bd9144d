// A painter over a small grid of values (class ids, depths) drawn without anti-aliasing, so
// every painted pixel is exactly one value: the segmentation painter and the depth brush.

import { History, trackPointer } from "./history.js";

export class GridPainter {
  /** canvas: width = height = grid size; colour(value) -> [r, g, b] for display. */
  constructor(canvas, Kind, colour, onChange) {
    this.canvas = canvas;
    this.size = canvas.width;
    this.ctx = canvas.getContext("2d");
    this.values = new Kind(this.size * this.size);
    this.colour = colour;
    this.onChange = onChange;
    this.value = 1; // what the brush paints
    this.empty = 0; // what the eraser paints
    this.radius = 2;
    this.mode = "brush"; // brush | eraser | fill
    this.history = new History();
    this.last = null;
    trackPointer(canvas, (x, y, first) => this.paint(x, y, first), () => this.onChange());
    this.render();
  }

  paint(x, y, first) {
    const [gx, gy] = [Math.floor(x), Math.floor(y)];
    if (first) this.history.push(this.values.slice());
    const value = this.mode === "eraser" ? this.empty : this.value;
    if (this.mode === "fill") {
      if (first) this.fill(gx, gy, value);
    } else {
      // dabs along the segment from the last point: fast moves leave no gaps
      const [lx, ly] = first ? [gx, gy] : this.last;
      const steps = Math.max(Math.abs(gx - lx), Math.abs(gy - ly), 1);
      for (let i = 0; i <= steps; i++) {
        this.dab(Math.round(lx + ((gx - lx) * i) / steps), Math.round(ly + ((gy - ly) * i) / steps), value);
      }
    }
    this.last = [gx, gy];
    this.render();
  }

  dab(cx, cy, value) {
    const r = this.radius - 1; // radius 1 = one pixel
    for (let y = cy - r; y <= cy + r; y++) {
      for (let x = cx - r; x <= cx + r; x++) {
        if (x < 0 || y < 0 || x >= this.size || y >= this.size) continue;
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r + r) this.values[y * this.size + x] = value;
      }
    }
  }

  /** Flood-fill the 4-connected region of equal value around (x, y). */
  fill(x, y, value) {
    const n = this.size;
    if (x < 0 || y < 0 || x >= n || y >= n) return;
    const target = this.values[y * n + x];
    if (target === value) return;
    const stack = [y * n + x];
    while (stack.length) {
      const i = stack.pop();
      if (this.values[i] !== target) continue;
      this.values[i] = value;
      const px = i % n;
      if (px > 0) stack.push(i - 1);
      if (px < n - 1) stack.push(i + 1);
      if (i >= n) stack.push(i - n);
      if (i < n * (n - 1)) stack.push(i + n);
    }
  }

  /** The values as RGBA pixels, each value in colour(value). */
  pixels(colour) {
    const image = new ImageData(this.size, this.size);
    const colours = new Map();
    for (let i = 0; i < this.values.length; i++) {
      const v = this.values[i];
      if (!colours.has(v)) colours.set(v, colour(v));
      const [r, g, b] = colours.get(v);
      image.data.set([r, g, b, 255], i * 4);
    }
    return image;
  }

  render() {
    this.ctx.putImageData(this.pixels(this.colour), 0, 0);
  }

  /** A PNG data URL of the values painted in exact colours (what the server reads). */
  toPNG(colour) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = this.size;
    canvas.getContext("2d").putImageData(this.pixels(colour), 0, 0);
    return canvas.toDataURL("image/png");
  }

  undo() { this.restore(this.history.undo(this.values.slice())); }
  redo() { this.restore(this.history.redo(this.values.slice())); }

  restore(values) {
    if (!values) return;
    this.values.set(values);
    this.render();
    this.onChange();
  }

  clear() {
    this.history.push(this.values.slice());
    this.values.fill(this.empty);
    this.render();
    this.onChange();
  }

  isEmpty() {
    return this.values.every((v) => v === this.empty);
  }

  /** Replace every value (an upload or a shared URL); undo can go back. */
  set(values) {
    this.history.push(this.values.slice());
    this.values.set(values);
    this.render();
  }
}
