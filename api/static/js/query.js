// The query builder: caption, sketch, segmentation, depth, image and liked items, with one
// weight per active part. It turns itself into the URL state and into a search request.

import { SketchPad } from "./sketch.js";
import { GridPainter } from "./grid.js";
import { turbo } from "./colormap.js";
import { readNpy, isNpy, writeNpy } from "./npy.js";
import { decodeGreyPng } from "./png16.js";
import { toBase64, fromBase64 } from "./urlstate.js";

const $ = (sel, root = document) => root.querySelector(sel);
const DEPTH_MAX = 65535; // depth grid values: 0 = no depth, 1 (near) .. 65535 (far)
export const PARTS = ["caption", "sketch", "semseg", "depth", "image"];

/** Press one button of a radio-like group (aria-pressed shows the choice to screen readers). */
function pressOne(group, button) {
  for (const b of group.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
}

/** base64 of a data URL's payload. */
const payload = (dataURL) => dataURL.slice(dataURL.indexOf(",") + 1);

/** Centre-crop and nearest-resize a [h, w] grid to n x n (what the server does, roughly). */
function cropResize({ width, height, data }, n) {
  const side = Math.min(width, height);
  const [x0, y0] = [Math.floor((width - side) / 2), Math.floor((height - side) / 2)];
  const out = new Float32Array(n * n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const sx = x0 + Math.floor(((x + 0.5) * side) / n), sy = y0 + Math.floor(((y + 0.5) * side) / n);
      out[y * n + x] = data[sy * width + sx];
    }
  }
  return out;
}

/** Read an image file into a grey float grid (fallback for 8-bit and colour images). */
async function greyFromImage(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const data = new Float32Array(bitmap.width * bitmap.height);
  for (let i = 0; i < data.length; i++) data[i] = rgba[i * 4];
  return { width: bitmap.width, height: bitmap.height, data };
}

/** A depth file (.npy, 16-bit or 8-bit PNG) -> grid values 0 (none) or 1..65535, near to far. */
export async function depthFromFile(file) {
  const buffer = await file.arrayBuffer();
  const grid = isNpy(new Uint8Array(buffer)) ? readNpy(buffer)
    : (await decodeGreyPng(buffer)) || (await greyFromImage(file));
  const small = cropResize(grid, 64);
  const valid = small.filter((v) => Number.isFinite(v) && v > 0);
  if (!valid.length) throw new Error("the depth map has no valid (positive) pixel");
  const lo = Math.min(...valid), hi = Math.max(...valid);
  // an affine rescale keeps the query the same: the model standardises depth anyway
  return Uint16Array.from(small, (v) => (Number.isFinite(v) && v > 0
    ? 1 + Math.round(((v - lo) / Math.max(hi - lo, 1e-9)) * (DEPTH_MAX - 1)) : 0));
}

/** Shrink an image to a centred square of `side` pixels as a PNG data URL (the model sees 64). */
async function squareImage(blob, side = 128) {
  const bitmap = await createImageBitmap(blob);
  const s = Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = side;
  canvas.getContext("2d").drawImage(bitmap, (bitmap.width - s) / 2, (bitmap.height - s) / 2, s, s,
    0, 0, side, side);
  return canvas.toDataURL("image/png");
}

export class QueryBuilder {
  constructor(onChange) {
    this.onChange = onChange;
    this.weights = Object.fromEntries(PARTS.map((p) => [p, 1]));
    this.like = []; // [{id, weight}]
    this.image = null; // PNG data URL
    this.palette = [];
    this.caption = $("#caption");
    this.caption.addEventListener("input", () => this.changed());
    this.sketch = new SketchPad($("#sketch"), () => this.changed());
    // unpainted (background) shows as paper, so an empty painter does not look filled in
    this.semseg = new GridPainter($("#semseg"), Uint8Array,
      (v) => (v ? this.paletteColour(v) : [246, 246, 248]), () => this.changed());
    this.semseg.radius = 3;
    this.depth = new GridPainter($("#depth"), Uint16Array,
      (v) => (v ? turbo((v - 1) / (DEPTH_MAX - 1)) : [235, 235, 235]), () => this.changed());
    this.depth.radius = 4;
    this.depth.value = this.depthBrushValue();
    this.wireTools();
  }

  changed() {
    this.onChange();
  }

  paletteColour(id) {
    return this.palette.find((c) => c.id === id)?.color || [0, 0, 0];
  }

  depthBrushValue() {
    return Math.round((Number($("#depth-value").value) / 100) * (DEPTH_MAX - 1)) + 1;
  }

  wireTools() {
    const sketchPart = $("#part-sketch");
    sketchPart.querySelectorAll("[data-pen]").forEach((b) => b.addEventListener("click", () => {
      pressOne(b.parentElement, b);
      this.sketch.erasing = b.dataset.pen === "eraser";
      if (!this.sketch.erasing) this.sketch.width = Number(b.dataset.pen);
    }));
    for (const [part, painter] of [["#part-semseg", this.semseg], ["#part-depth", this.depth]]) {
      const root = $(part);
      root.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => {
        pressOne(b.parentElement, b);
        painter.mode = b.dataset.tool;
      }));
      root.querySelector("[data-size]")?.addEventListener("input", (e) => {
        painter.radius = Number(e.target.value);
      });
    }
    for (const [part, tool] of [["#part-sketch", this.sketch], ["#part-semseg", this.semseg],
      ["#part-depth", this.depth]]) {
      const root = $(part);
      root.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", () => tool[b.dataset.act]()));
      // Ctrl+Z / Ctrl+Y (or Shift+Ctrl+Z) while a tool of this part has the focus
      root.addEventListener("keydown", (e) => {
        if (!(e.ctrlKey || e.metaKey)) return;
        const key = e.key.toLowerCase();
        if (key === "z" && !e.shiftKey) tool.undo();
        else if (key === "y" || (key === "z" && e.shiftKey)) tool.redo?.();
        else return;
        e.preventDefault();
      });
    }
    $("#depth-value").addEventListener("input", () => { this.depth.value = this.depthBrushValue(); });
    $("#depth-file").addEventListener("change", async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      try {
        this.depth.set(await depthFromFile(file));
        this.changed();
      } catch (err) {
        this.onError?.(`depth: ${err.message}`);
      }
      e.target.value = "";
    });
    $("#image-file").addEventListener("change", async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      try {
        this.setImage(await squareImage(file));
      } catch {
        this.onError?.("image: this file is not an image the browser can read");
      }
      e.target.value = "";
    });
    $("#image-clear").addEventListener("click", () => this.setImage(null));
  }

  setImage(dataURL) {
    this.image = dataURL;
    const preview = $("#image-preview");
    preview.hidden = !dataURL;
    if (dataURL) preview.src = dataURL;
    else preview.removeAttribute("src");
    this.changed();
  }

  /** The class palette of the loaded model -> one brush button per class, with its colour. */
  setPalette(palette) {
    this.palette = palette;
    const legend = $("#semseg-classes");
    legend.replaceChildren();
    for (const cls of palette) {
      if (cls.id === 0) continue; // background is what the eraser paints
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.class = cls.id;
      b.setAttribute("aria-pressed", "false");
      b.innerHTML = `<i style="background:rgb(${cls.color.join(",")})"></i>`;
      b.append(cls.name);
      b.addEventListener("click", () => {
        pressOne(legend, b);
        this.semseg.value = cls.id;
        if (this.semseg.mode === "eraser") $("#part-semseg [data-tool=brush]").click();
      });
      legend.append(b);
    }
    legend.querySelector("button")?.click();
    this.semseg.render();
  }

  /** Which parts have content, in a fixed order. */
  active() {
    const has = {
      caption: this.caption.value.trim() !== "",
      sketch: !this.sketch.isEmpty(),
      semseg: !this.semseg.isEmpty(),
      depth: !this.depth.isEmpty(),
      image: this.image !== null,
    };
    return PARTS.filter((p) => has[p] && !document.getElementById(`part-${p}`).hidden);
  }

  /** What the URL keeps: everything needed to send the same request again. */
  toState() {
    const s = { w: {}, like: this.like };
    for (const p of this.active()) s.w[p] = this.weights[p];
    if (this.caption.value.trim()) s.caption = this.caption.value;
    s.sketch = this.sketch.toDataURL();
    if (!this.semseg.isEmpty()) s.semseg = toBase64(this.semseg.values);
    if (!this.depth.isEmpty()) s.depth = toBase64(new Uint8Array(this.depth.values.buffer));
    if (this.image) s.image = this.image;
    return s;
  }

  async fromState(s) {
    this.caption.value = s.caption || "";
    await this.sketch.load(s.sketch || null);
    this.semseg.values.fill(0);
    if (s.semseg) this.semseg.values.set(fromBase64(s.semseg));
    this.semseg.render();
    this.depth.values.fill(0);
    if (s.depth) this.depth.values.set(new Uint16Array(fromBase64(s.depth).buffer));
    this.depth.render();
    this.image = null;
    this.setImage(s.image || null);
    this.like = s.like || [];
    for (const [p, w] of Object.entries(s.w || {})) this.weights[p] = w;
  }

  /** The parts of a JSON search request (files as base64), the zero-weight ones left out. */
  parts() {
    const out = [];
    for (const modality of this.active()) {
      const weight = this.weights[modality];
      if (!weight) continue;
      const part = { modality, weight };
      if (modality === "caption") part.text = this.caption.value.trim();
      if (modality === "sketch") part.data = payload(this.sketch.toDataURL());
      if (modality === "semseg") part.data = payload(this.semseg.toPNG((v) => this.paletteColour(v)));
      if (modality === "depth") {
        part.data = toBase64(writeNpy(Float32Array.from(this.depth.values), 64, 64));
      }
      if (modality === "image") part.data = payload(this.image);
      out.push(part);
    }
    return out;
  }

  reset() {
    this.caption.value = "";
    this.sketch.clear();
    this.semseg.clear();
    this.depth.clear();
    this.like = [];
    this.setImage(null);
  }
}
