// The query part editors, one per editor kind a query modality declares (GET /v1/model:
// query_modalities[].editor). The page builds one part per modality the model takes from these,
// so a new query modality needs no change here unless it brings a new kind of editor.
//
// Every editor renders its own fieldset (#part-NAME, main element #NAME) and answers the same
// questions: isEmpty(), state() / load(state) for the URL, value() for the search request
// ({text}, {data: base64} or {value: JSON}), clear().

import { SketchPad } from "./sketch.js";
import { GridPainter } from "./grid.js";
import { turbo } from "./colormap.js";
import { readNpy, isNpy, writeNpy } from "./npy.js";
import { decodeGreyPng } from "./png16.js";
import { toBase64, fromBase64 } from "./urlstate.js";

const DEPTH_MAX = 65535; // depth grid values: 0 = no depth, 1 (near) .. 65535 (far)
const PAPER = [246, 246, 248]; // unpainted cells, so an empty painter does not look filled in

/** Press one button of a radio-like group (aria-pressed shows the choice to screen readers). */
function pressOne(group, button) {
  for (const b of group.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
}

/** base64 of a data URL's payload. */
const payload = (dataURL) => dataURL.slice(dataURL.indexOf(",") + 1);

/** Read a file as a data URL. */
const dataURLOf = (file) => new Promise((resolve, reject) => {
  const reader = new FileReader();
  reader.onload = () => resolve(reader.result);
  reader.onerror = () => reject(reader.error);
  reader.readAsDataURL(file);
});

/** The `accept` attribute of a file input for declared formats. */
const accept = (formats) => formats.map((f) => `.${f}`).join(",");

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
export async function depthFromFile(file, n = 64) {
  const buffer = await file.arrayBuffer();
  const grid = isNpy(new Uint8Array(buffer)) ? readNpy(buffer)
    : (await decodeGreyPng(buffer)) || (await greyFromImage(file));
  const small = cropResize(grid, n);
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

/** What every editor shares: its fieldset with a legend and help, and the page's callbacks. */
class Editor {
  /** decl: the declared query modality; page: {changed(), error(text), palette}. */
  constructor(decl, page, inner) {
    this.decl = decl;
    this.name = decl.name;
    this.page = page;
    this.root = document.createElement("fieldset");
    this.root.className = "part";
    this.root.id = `part-${decl.name}`;
    this.root.dataset.modality = decl.name;
    this.root.innerHTML = `<legend></legend>${inner}`;
    this.root.querySelector("legend").textContent = decl.label;
    this.root.title = decl.help;
  }

  $(selector) {
    return this.root.querySelector(selector);
  }

  /** Wire a file input: each chosen file goes to `use(file)`; a failure is shown, not thrown. */
  onFile(input, use, what) {
    input.addEventListener("change", async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      try {
        await use(file);
        this.page.changed();
      } catch (err) {
        this.page.error(`${this.name}: ${err.message || what}`);
      }
      e.target.value = "";
    });
  }

  /** Undo/redo/clear buttons and Ctrl+Z / Ctrl+Y while a tool of this part has the focus. */
  wireHistory(tool) {
    this.root.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", () => tool[b.dataset.act]()));
    this.root.addEventListener("keydown", (e) => {
      if (!(e.ctrlKey || e.metaKey)) return;
      const key = e.key.toLowerCase();
      if (key === "z" && !e.shiftKey) tool.undo();
      else if (key === "y" || (key === "z" && e.shiftKey)) tool.redo?.();
      else return;
      e.preventDefault();
    });
  }
}

/** A caption: one text box, and the words of the last search the model could not read. */
class TextEditor extends Editor {
  constructor(decl, page) {
    super(decl, page, `<textarea id="${decl.name}" rows="3" maxlength="2000" autocomplete="off"></textarea>
      <p class="warnings" id="${decl.name}-warnings" role="status" aria-live="polite" hidden></p>`);
    this.input = this.$("textarea");
    this.warnings = this.$(".warnings");
    this.input.placeholder = decl.example || "";
    this.input.setAttribute("aria-label", decl.label);
    this.input.setAttribute("aria-describedby", this.warnings.id);
    this.input.addEventListener("input", () => { this.showWarnings([]); page.changed(); });
    // Enter searches (a caption is one line); Shift+Enter is left to the browser
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); page.submit?.(); }
    });
  }

  isEmpty() { return this.input.value.trim() === ""; }
  state() { return this.input.value; }
  load(state) { this.input.value = state || ""; }
  value() { return { text: this.input.value.trim() }; }
  clear() { this.input.value = ""; this.showWarnings([]); }

  /** The search's warnings (`unknown word "teal"`) under the box; none hides them. */
  showWarnings(warnings) {
    this.warnings.textContent = warnings.length ? `Not understood: ${warnings.join("; ")}` : "";
    this.warnings.hidden = !warnings.length;
  }
}

/** A drawing pad (sketches, edge maps): pen widths, eraser, undo/redo, clear. */
class SketchEditor extends Editor {
  constructor(decl, page) {
    super(decl, page, `
      <div class="tools" role="toolbar">
        <span role="radiogroup" aria-label="Pen">
          <button type="button" data-pen="2" aria-pressed="false" title="Thin pen">thin</button>
          <button type="button" data-pen="4" aria-pressed="true" title="Pen">pen</button>
          <button type="button" data-pen="9" aria-pressed="false" title="Marker">marker</button>
          <button type="button" data-pen="eraser" aria-pressed="false" title="Eraser">eraser</button>
        </span>
        <button type="button" data-act="undo" title="Undo (Ctrl+Z)">undo</button>
        <button type="button" data-act="redo" title="Redo (Ctrl+Y)">redo</button>
        <button type="button" data-act="clear">clear</button>
      </div>
      <canvas id="${decl.name}" class="pad" width="256" height="256" tabindex="0"></canvas>`);
    this.$(".tools").setAttribute("aria-label", `${decl.label} tools`);
    const canvas = this.$("canvas");
    canvas.setAttribute("aria-label", `${decl.label} canvas: draw with the mouse, a pen or a finger`);
    this.pad = new SketchPad(canvas, () => page.changed());
    this.root.querySelectorAll("[data-pen]").forEach((b) => b.addEventListener("click", () => {
      pressOne(b.parentElement, b);
      this.pad.erasing = b.dataset.pen === "eraser";
      if (!this.pad.erasing) this.pad.width = Number(b.dataset.pen);
    }));
    this.wireHistory(this.pad);
  }

  isEmpty() { return this.pad.isEmpty(); }
  state() { return this.pad.toDataURL(); }
  load(state) { return this.pad.load(state || null); }
  value() { return { data: payload(this.pad.toDataURL()) }; }
  clear() { this.pad.clear(); }
}

/** A painter over a small grid (class ids, depths): brush, fill, eraser, undo, clear. */
class GridEditor extends Editor {
  constructor(decl, page, tools, Kind, colour, radius) {
    super(decl, page, `
      <div class="tools" role="toolbar">
        ${tools}
        <span role="radiogroup" aria-label="Tool">
          <button type="button" data-tool="brush" aria-pressed="true">brush</button>
          <button type="button" data-tool="fill" aria-pressed="false">fill</button>
          <button type="button" data-tool="eraser" aria-pressed="false">eraser</button>
        </span>
        <label>size <input type="range" data-size min="1" max="8" value="${radius}"></label>
        <button type="button" data-act="undo">undo</button>
        <button type="button" data-act="clear">clear</button>
      </div>
      <canvas id="${decl.name}" class="pad pixel" width="64" height="64" tabindex="0"></canvas>`);
    this.$(".tools").setAttribute("aria-label", `${decl.label} tools`);
    this.grid = new GridPainter(this.$("canvas"), Kind, colour, () => page.changed());
    this.grid.radius = radius;
    this.root.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => {
      pressOne(b.parentElement, b);
      this.grid.mode = b.dataset.tool;
    }));
    this.$("[data-size]").addEventListener("input", (e) => { this.grid.radius = Number(e.target.value); });
    this.wireHistory(this.grid);
  }

  isEmpty() { return this.grid.isEmpty(); }
  clear() { this.grid.clear(); }
}

/** A segmentation painter: one brush per class of the model's palette. */
class PaintEditor extends GridEditor {
  constructor(decl, page) {
    super(decl, page, `<span id="${decl.name}-classes" class="legend" role="radiogroup" aria-label="Class brush"></span>`,
      Uint8Array, (v) => (v ? this.colourOf(v) : PAPER), 3);
    this.$("canvas").setAttribute("aria-label", `${decl.label} painter: paint regions with the chosen class`);
    this.$("[data-tool=eraser]").title = "Paint background";
    const legend = this.$(".legend");
    for (const cls of page.palette) {
      if (cls.id === 0) continue; // background is what the eraser paints
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.class = cls.id;
      b.setAttribute("aria-pressed", "false");
      b.innerHTML = `<i style="background:rgb(${cls.color.join(",")})"></i>`;
      b.append(cls.name);
      b.addEventListener("click", () => {
        pressOne(legend, b);
        this.grid.value = cls.id;
        if (this.grid.mode === "eraser") this.$("[data-tool=brush]").click();
      });
      legend.append(b);
    }
    legend.querySelector("button")?.click();
    // class names drawn over the painted regions: a brush colour is a class, not an object colour
    const canvas = this.$("canvas");
    this.labels = document.createElement("div");
    this.labels.className = "pad-wrap";
    canvas.replaceWith(this.labels);
    this.labels.append(canvas);
    const render = this.grid.render.bind(this.grid);
    this.grid.render = () => { render(); this.label(); };
    this.grid.render();
  }

  /** One class-name tag at the centre of each painted class's pixels. */
  label() {
    const { size, values } = this.grid;
    const sums = new Map();
    for (let i = 0; i < values.length; i++) {
      if (!values[i]) continue;
      const s = sums.get(values[i]) || [0, 0, 0];
      s[0] += i % size; s[1] += Math.floor(i / size); s[2] += 1;
      sums.set(values[i], s);
    }
    this.labels.querySelectorAll(".seg-label").forEach((e) => e.remove());
    for (const [id, [x, y, n]] of sums) {
      const tag = document.createElement("span");
      tag.className = "seg-label";
      tag.textContent = this.page.palette.find((c) => c.id === id)?.name ?? String(id);
      tag.style.left = `${((x / n + 0.5) / size) * 100}%`;
      tag.style.top = `${((y / n + 0.5) / size) * 100}%`;
      this.labels.append(tag);
    }
  }

  colourOf(id) {
    return this.page.palette.find((c) => c.id === id)?.color || [0, 0, 0];
  }

  state() { return toBase64(this.grid.values); }
  load(state) {
    this.grid.values.fill(0);
    if (state) this.grid.values.set(fromBase64(state));
    this.grid.render();
  }
  value() { return { data: payload(this.grid.toPNG((v) => this.colourOf(v))) }; }
}

/** A depth map: open a 16-bit PNG / .npy (shown in false colour) or paint near/far. */
class DepthEditor extends GridEditor {
  constructor(decl, page) {
    super(decl, page, `
      <label class="file">open 16-bit PNG / .npy
        <input id="${decl.name}-file" type="file" accept="${accept(decl.formats)},image/png"></label>
      <label>near <input type="range" id="${decl.name}-value" min="1" max="100" value="30"
                         aria-label="Brush depth: near to far"> far</label>`,
      Uint16Array, (v) => (v ? turbo((v - 1) / (DEPTH_MAX - 1)) : [235, 235, 235]), 4);
    this.$("canvas").setAttribute("aria-label", `${decl.label}, false colour: warm is near, cool is far`);
    const brush = this.$(`#${decl.name}-value`);
    const level = () => Math.round((Number(brush.value) / 100) * (DEPTH_MAX - 1)) + 1;
    this.grid.value = level();
    brush.addEventListener("input", () => { this.grid.value = level(); });
    this.onFile(this.$("input[type=file]"), async (file) => this.grid.set(await depthFromFile(file, this.grid.size)));
  }

  state() { return toBase64(new Uint8Array(this.grid.values.buffer)); }
  load(state) {
    this.grid.values.fill(0);
    if (state) this.grid.values.set(new Uint16Array(fromBase64(state).buffer));
    this.grid.render();
  }
  value() {
    const n = this.grid.size;
    return { data: toBase64(writeNpy(Float32Array.from(this.grid.values), n, n)) };
  }
}

/** An opened file sent as it is, with a preview when it is an image (photos, normal maps...). */
class FileEditor extends Editor {
  constructor(decl, page) {
    super(decl, page, `
      <label class="file">open <input id="${decl.name}-file" type="file"></label>
      <button type="button" id="${decl.name}-clear">remove</button>
      <img id="${decl.name}-preview" alt="" hidden>`);
    this.file = this.$("input[type=file]");
    this.file.accept = decl.editor === "image" ? "image/*" : accept(decl.formats);
    this.preview = this.$("img");
    this.url = null; // data URL of what is sent
    this.onFile(this.file, async (file) => this.set(await this.read(file)),
      "this file is not one the browser can read");
    this.$("button").addEventListener("click", () => { this.set(null); page.changed(); });
  }

  /** An image is shrunk to a square (the model sees 64 px); other files are sent as they are. */
  read(file) {
    return this.decl.editor === "image" ? squareImage(file) : dataURLOf(file);
  }

  set(url) {
    this.url = url;
    const shown = Boolean(url) && url.startsWith("data:image/");
    this.preview.hidden = !shown;
    if (shown) this.preview.src = url;
    else this.preview.removeAttribute("src");
  }

  isEmpty() { return this.url === null; }
  state() { return this.url; }
  load(state) { this.set(state || null); }
  value() { return { data: payload(this.url) }; }
  clear() { this.set(null); }
}

/** A structured query as JSON (official 4M-21: colour palettes, boxes, metadata). */
class JsonEditor extends Editor {
  constructor(decl, page) {
    super(decl, page, `<textarea id="${decl.name}" rows="2" spellcheck="false"></textarea>`);
    this.input = this.$("textarea");
    this.input.placeholder = decl.example || "JSON";
    this.input.setAttribute("aria-label", `${decl.label} as JSON`);
    this.input.addEventListener("input", () => page.changed());
  }

  isEmpty() { return this.input.value.trim() === ""; }
  state() { return this.input.value; }
  load(state) { this.input.value = state || ""; }
  value() {
    try {
      return { value: JSON.parse(this.input.value) };
    } catch (err) {
      throw new Error(`${this.name}: not valid JSON (${err.message})`);
    }
  }
  clear() { this.input.value = ""; }
}

/** Editor kind -> its editor; a class painter needs the model's palette, else it opens files. */
const EDITORS = {
  text: TextEditor,
  sketch: SketchEditor,
  paint: PaintEditor,
  depth: DepthEditor,
  image: FileEditor,
  file: FileEditor,
  json: JsonEditor,
};

/** The editor for a declared query modality on this page. */
export function editorFor(decl, page) {
  const kind = decl.editor === "paint" && !page.palette?.length ? "file" : decl.editor;
  const Kind = EDITORS[kind] || FileEditor;
  return new Kind({ ...decl, editor: kind }, page);
}
