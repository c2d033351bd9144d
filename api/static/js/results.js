// The results grid: thumbnails with scores, per-space ranks and scores in each tile's tooltip
// and in the item view, paging by cursor ("More results", also triggered by scrolling).

import { api, showImage } from "./api.js";

const $ = (sel) => document.querySelector(sel);
const fmt = (x) => (Math.round(x * 1000) / 1000).toFixed(3);
const pct = (x) => `${Math.round(x * 100)}%`;
/** "relevance 87%\n" for a hit that has one; nothing for a model without a calibration. */
const relevanceLine = (hit) => (hit.relevance === null ? "" : `relevance ${pct(hit.relevance)}\n`);

/** "clip #1 0.912 · dino #3 0.801": an item's rank and score in every space. */
export function spaceSummary(hit) {
  return Object.entries(hit.spaces).map(([s, v]) => `${s} #${v.rank} ${fmt(v.score)}`).join(" · ");
}

/** Whether an item has a picture (a photo, a depth map, a sketch...): one of text alone (a
 * caption) is shown as its text. Items indexed before items had parts are photos. */
export const hasPicture = (payload) => (payload?.modalities ?? ["rgb"]).some((m) => m !== "caption");

/** "depth + rgb": the modalities an item holds, when it is more than one photo. */
export const modalityLabel = (payload) => {
  const m = payload?.modalities ?? ["rgb"];
  return m.length === 1 && m[0] === "rgb" ? "" : m.join(" + ");
};

export class ResultsView {
  constructor({ onOpen }) {
    this.grid = $("#grid");
    this.more = $("#more");
    this.onOpen = onOpen;
    this.hits = [];
    $("#show-scores").addEventListener("change", (e) => {
      this.grid.classList.toggle("no-scores", !e.target.checked);
    });
    // infinite scroll: the "More results" button loads the next page once the user scrolls
    // down to it (never by itself after a search: the count then matches what was asked for)
    this.baseY = 0;
    const next = () => {
      if (window.scrollY > this.baseY + 40 && !this.more.hidden && !this.more.disabled) this.more.click();
    };
    this.near = false;
    new IntersectionObserver((entries) => {
      this.near = entries.some((e) => e.isIntersecting);
      if (this.near) next();
    }, { rootMargin: "200px" }).observe(this.more);
    window.addEventListener("scroll", () => { if (this.near) next(); }, { passive: true });
  }

  /** Where the page rests after a search: scrolling down from here loads the next page. */
  settle() {
    requestAnimationFrame(() => { this.baseY = window.scrollY; });
  }

  clear() {
    this.hits = [];
    this.grid.replaceChildren();
    this.more.hidden = true;
  }

  /** Append one page of hits (rank numbers continue across pages). */
  append(collection, response) {
    for (const hit of response.hits) {
      this.hits.push(hit);
      const li = document.createElement("li");
      li.className = "hit";
      li.dataset.id = hit.id;
      const button = document.createElement("button");
      button.type = "button";
      button.title = `item ${hit.id}\n${relevanceLine(hit)}score ${fmt(hit.score)}\n${spaceSummary(hit).replaceAll(" · ", "\n")}`;
      button.setAttribute("aria-label", `Result ${this.hits.length}: item ${hit.id}`
        + (hit.relevance === null ? "" : `, relevance ${pct(hit.relevance)}`));
      const rank = document.createElement("span");
      rank.className = "rank";
      rank.textContent = `#${this.hits.length}`;
      if (hasPicture(hit.payload)) { // a photo, a depth map in its colour map, a sketch's lines...
        const img = document.createElement("img");
        showImage(img, api.thumbnailUrl(collection, hit.id));
        img.alt = hit.payload?.key || hit.payload?.path?.split("/").pop() || `item ${hit.id}`;
        button.append(img);
      } else { // a caption: its text is the item
        const text = document.createElement("q");
        text.className = "caption-hit";
        text.textContent = hit.payload?.caption ?? hit.payload?.key ?? `item ${hit.id}`;
        button.append(text);
      }
      const kinds = modalityLabel(hit.payload);
      if (kinds) {
        const badge = document.createElement("span");
        badge.className = "kinds";
        badge.textContent = kinds;
        button.append(badge);
      }
      button.append(rank);
      if (hit.relevance !== null) { // a model without a relevance calibration has none to show
        const score = document.createElement("span");
        score.className = "score";
        score.textContent = hit.relevance.toFixed(2);
        score.title = "relevance: how likely this is what the query describes (0 to 1)";
        button.append(score);
      }
      button.addEventListener("click", () => this.onOpen(hit));
      li.append(button);
      this.grid.append(li);
    }
    this.more.hidden = !response.next_cursor;
  }
}

/** "2.4 KB", "1.3 MB". */
export function fileSize(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let i = 0;
  for (; bytes >= 1024 && i < units.length - 1; i++) bytes /= 1024;
  return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
}

// payload fields a person reads, in words; the rest (hashes, ids) go behind "technical details"
const READABLE = {
  key: ["name", String],
  modalities: ["holds", (v) => v.join(" + ")],
  caption: ["caption", String],
  path: ["file", String],
  folder: ["folder", String],
  ext: ["type", (v) => String(v).toUpperCase()],
  bytes: ["size", fileSize],
  mtime: ["modified", (v) => new Date(v * 1000).toLocaleString()],
};

function describe(dl, entries) {
  dl.replaceChildren();
  for (const [k, v] of entries) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

/** The item view: full image, relevance and per-space scores, readable details, and "search
 * like this" actions; ``previews``: the model's pictures of items it has (GET /v1/model). */
export function showItem(collection, hit, previews, actions) {
  const dialog = $("#item-view");
  $("#item-title").textContent = `Item ${hit.id}`;
  const picture = hasPicture(hit.payload);
  $("#item-image").hidden = !picture;
  if (picture) { // the original photo, or the item's picture (a colour-mapped depth map...)
    const own = (hit.payload?.modalities ?? ["rgb"]).includes("rgb");
    showImage($("#item-image"), own ? api.imageUrl(collection, hit.id) : api.thumbnailUrl(collection, hit.id));
  }
  $("#item-image").alt = hit.payload?.key || hit.payload?.path || `item ${hit.id}`;
  showSeen(collection, hit.id, previews);
  const table = $("#item-spaces");
  table.innerHTML = "<tr><th scope='col'></th><th scope='col'>rank</th><th scope='col'>similarity</th></tr>";
  if (hit.relevance !== null) table.insertAdjacentHTML("beforeend", `<tr><td>relevance (0 to 1)</td><td></td><td>${hit.relevance.toFixed(2)}</td></tr>`);
  table.insertAdjacentHTML("beforeend", `<tr><td>all spaces together</td><td></td><td>${fmt(hit.score)}</td></tr>`);
  for (const [space, v] of Object.entries(hit.spaces)) {
    const row = table.insertRow();
    for (const text of [`${space} space`, `#${v.rank}`, fmt(v.score)]) row.insertCell().textContent = text;
  }
  const payload = hit.payload || {};
  const readable = Object.entries(READABLE)
    .filter(([k]) => payload[k] !== undefined && payload[k] !== null && !(k === "path" && payload.key === payload.path))
    .map(([k, [label, show]]) => [label, show(payload[k])]);
  if (payload.width && payload.height) readable.push(["pixels", `${payload.width} × ${payload.height}`]);
  // your own metadata fields (what the filters name), as they are
  for (const [k, v] of Object.entries(payload.metadata || {})) readable.push([k, Array.isArray(v) ? v.join(", ") : String(v)]);
  describe($("#item-payload"), readable);
  const shown = new Set([...Object.keys(READABLE), "width", "height", "metadata"]);
  describe($("#item-raw-body"), [["item id", String(hit.id)], ...Object.entries(payload)
    .filter(([k]) => !shown.has(k)).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)])]);
  $("#item-raw").open = false;
  for (const [id, action] of Object.entries(actions)) {
    $(id).onclick = () => { dialog.close(); action(hit); };
  }
  dialog.showModal();
}

/** The model's pictures of an item (MultiMAE's depth and segmentation): only those the model
 * says it makes, so nothing is asked for that cannot exist. */
function showSeen(collection, id, previews) {
  const seen = $("#item-seen");
  seen.hidden = true;
  for (const kind of ["depth", "semseg"]) {
    const img = $(`#item-${kind}`);
    img.removeAttribute("src");
    img.parentElement.hidden = !previews.includes(kind);
    if (!previews.includes(kind)) continue;
    img.onload = () => { seen.hidden = false; };
    img.onerror = () => img.removeAttribute("src"); // not written for this item (e.g. turned off)
    showImage(img, api.thumbnailUrl(collection, id, kind));
  }
}

/** Base64 PNGs of what the model sees in the query image, as small figures ("" when none). */
function seen(pictures) {
  if (!pictures) return "";
  const figure = ([kind, png]) => `<figure><img src="data:image/png;base64,${png.replace(/[^A-Za-z0-9+/=]/g, "")}"
    alt="${String(kind).replace(/[^a-z]/g, "")} the model sees in the query image"><figcaption>${kind === "depth" ? "depth (near = bright)" : "segmentation"}</figcaption></figure>`;
  return `<div class="seen" id="explain-seen">${Object.entries(pictures).map(figure).join("")}</div>`;
}

const COMBINED = {
  joint: "all parts given to the model together, in one pass",
  fusion: "each part asked alone, the answers mixed by their weights",
  guidance: "the parts steer one another by their weights",
  items: "only results you picked: their stored vectors",
};

/** What a result's score means: the calibrated relevance, or (a model without a calibration,
 * ``note`` its answer's relevance_note) the raw similarity the results are ranked by. */
function scoreMeaning(note) {
  return note === null
    ? `Each result's relevance (0 to 1) is how likely it is what the query describes;
      the similarity per space (the raw cosine) is in the item view.`
    : `This model has no relevance calibration, so results carry no relevance: they are ranked by
      their similarity to the query (the fused raw cosine, not a probability; per space in the
      item view).`;
}

/** The explain panel, in words: how the query was read, how much each space counted, what the
 * model was given, the time each step took and, when it can say, what it sees in the image. */
export function showExplain(explanation, note = null) {
  const panel = $("#explain-panel");
  panel.hidden = !explanation;
  if (!explanation) return;
  const rows = (obj, f) => Object.entries(obj).map(([k, v]) => `<tr><th scope="row">${k}</th>${f(v)}</tr>`).join("");
  const esc = (s) => String(s).replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
  const fusion = explanation.fusion === "rrf" ? "by rank in each space" : "by how sure the model is in each space";
  $("#explain-body").innerHTML = `
    <p>How the query was read: ${esc(COMBINED[explanation.combine] ?? explanation.combine)}.
      The model predicts what a matching image looks like in each <i>space</i> (a way of comparing
      images: one for meaning, one for layout); ${explanation.union} images close to that
      prediction were compared in every space and ranked ${fusion}.</p>
    ${explanation.imagined ? `<p>The model imagines: <q>${esc(explanation.imagined)}</q></p>` : ""}
    <table><caption>how much each space counted</caption><tr><th></th><th>share</th><th>model's certainty</th><th>images compared</th></tr>
      ${rows(explanation.spaces, (v) => `<td>${Math.round(v.weight * 100)}%</td><td>${v.information.toFixed(2)}</td><td>${v.candidates}</td>`)}</table>
    <p class="muted" id="explain-scores">${scoreMeaning(note)}</p>
    <table><caption>time each step took (ms)</caption>
      ${rows(explanation.timings_ms, (v) => `<td>${v.toFixed(1)}</td>`)}</table>
    <table><caption>what the model was given</caption>
      ${rows(explanation.inputs, (v) => `<td>${esc(Object.entries(v).map(([k, x]) => `${k}: ${JSON.stringify(x)}`).join(", "))}</td>`)}</table>
    ${seen(explanation.reconstructions)}`;
}
