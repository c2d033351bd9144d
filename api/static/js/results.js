// The results grid: thumbnails with scores, per-space ranks and scores in each tile's tooltip
// and in the item view, paging by cursor ("More results", also triggered by scrolling).

import { api, showImage } from "./api.js";

const $ = (sel) => document.querySelector(sel);
const fmt = (x) => (Math.round(x * 1000) / 1000).toFixed(3);

/** "clip #1 0.912 · dino #3 0.801": an item's rank and score in every space. */
export function spaceSummary(hit) {
  return Object.entries(hit.spaces).map(([s, v]) => `${s} #${v.rank} ${fmt(v.score)}`).join(" · ");
}

export class ResultsView {
  constructor({ onOpen }) {
    this.grid = $("#grid");
    this.more = $("#more");
    this.onOpen = onOpen;
    this.hits = [];
    $("#show-scores").addEventListener("change", (e) => {
      this.grid.classList.toggle("no-scores", !e.target.checked);
    });
    // infinite scroll: the "More results" button loads the next page once it scrolls into view
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !this.more.hidden && !this.more.disabled) {
        this.more.click();
      }
    }, { rootMargin: "200px" }).observe(this.more);
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
      button.title = `item ${hit.id}\nscore ${fmt(hit.score)}\n${spaceSummary(hit).replaceAll(" · ", "\n")}`;
      button.setAttribute("aria-label", `Result ${this.hits.length}: item ${hit.id}, score ${fmt(hit.score)}`);
      const img = document.createElement("img");
      showImage(img, api.thumbnailUrl(collection, hit.id));
      img.alt = hit.payload?.path?.split("/").pop() || `item ${hit.id}`;
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = fmt(hit.score);
      const rank = document.createElement("span");
      rank.className = "rank";
      rank.textContent = `#${this.hits.length}`;
      button.append(img, rank, score);
      button.addEventListener("click", () => this.onOpen(hit));
      li.append(button);
      this.grid.append(li);
    }
    this.more.hidden = !response.next_cursor;
  }
}

/** The item view: full image, per-space scores, payload, and "search like this" actions. */
export function showItem(collection, hit, actions) {
  const dialog = $("#item-view");
  $("#item-title").textContent = `Item ${hit.id}`;
  showImage($("#item-image"), api.imageUrl(collection, hit.id));
  $("#item-image").alt = hit.payload?.path || `item ${hit.id}`;
  showSeen(collection, hit.id);
  const table = $("#item-spaces");
  table.innerHTML = "<tr><th scope='col'>space</th><th scope='col'>rank</th><th scope='col'>score</th></tr>";
  table.insertAdjacentHTML("beforeend", `<tr><td>fused</td><td></td><td>${fmt(hit.score)}</td></tr>`);
  for (const [space, v] of Object.entries(hit.spaces)) {
    const row = table.insertRow();
    for (const text of [space, `#${v.rank}`, fmt(v.score)]) row.insertCell().textContent = text;
  }
  const dl = $("#item-payload");
  dl.replaceChildren();
  for (const [k, v] of Object.entries(hit.payload || {})) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = typeof v === "object" ? JSON.stringify(v) : String(v);
    dl.append(dt, dd);
  }
  for (const [id, action] of Object.entries(actions)) {
    $(id).onclick = () => { dialog.close(); action(hit); };
  }
  dialog.showModal();
}

/** The model's depth and segmentation of an item (MultiMAE writes them): shown once one loads. */
function showSeen(collection, id) {
  const seen = $("#item-seen");
  seen.hidden = true;
  for (const kind of ["depth", "semseg"]) {
    const img = $(`#item-${kind}`);
    img.removeAttribute("src");
    img.onload = () => { seen.hidden = false; };
    img.onerror = () => img.removeAttribute("src"); // 404: the model reconstructs nothing
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

/** The explain panel: stage timings, space weights, what the model was given and, when it can
 * say, what it sees in the query image (depth and segmentation). */
export function showExplain(explanation) {
  const panel = $("#explain-panel");
  panel.hidden = !explanation;
  if (!explanation) return;
  panel.open = true; // asked for: show it
  const rows = (obj, f) => Object.entries(obj).map(([k, v]) => `<tr><th scope="row">${k}</th>${f(v)}</tr>`).join("");
  const esc = (s) => String(s).replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
  $("#explain-body").innerHTML = `
    <p>fusion <b>${esc(explanation.fusion)}</b>, parts combined by <b>${esc(explanation.combine)}</b>,
      ${explanation.union} candidates scored in every space</p>
    <table><caption>stage timings (ms)</caption>
      ${rows(explanation.timings_ms, (v) => `<td>${v.toFixed(1)}</td>`)}</table>
    <table><caption>spaces</caption><tr><th></th><th>information</th><th>weight</th><th>candidates</th></tr>
      ${rows(explanation.spaces, (v) => `<td>${v.information.toFixed(2)}</td><td>${v.weight.toFixed(2)}</td><td>${v.candidates}</td>`)}</table>
    <table><caption>what the model saw</caption>
      ${rows(explanation.inputs, (v) => `<td>${esc(Object.entries(v).map(([k, x]) => `${k}: ${JSON.stringify(x)}`).join(", "))}</td>`)}</table>
    ${seen(explanation.reconstructions)}`;
}
