// The page: wires the collection picker, the query builder, the results and the uploads
// together, and keeps the query in the URL (every search is a link that gives the same results).

import { api, apiKey, showImage } from "./api.js";
import { showDuplicates } from "./duplicates.js";
import { FilterRows } from "./filters.js";
import { QueryBuilder } from "./query.js";
import { ResultsView, showItem, showExplain } from "./results.js";
import { Uploads } from "./upload.js";
import { encodeState, decodeState } from "./urlstate.js";

const $ = (sel) => document.querySelector(sel);
// the weight "not like this" gives a result: search/steering.py DEFAULT_NEGATIVE_WEIGHT, measured
// by bench/query_combination.py (-1 buried the wanted scene; this keeps it in the top 10)
export const NOT_LIKE_WEIGHT = -0.75;

const page = {
  collections: [],
  model: null,
  request: null, // the last search request (for "more" and the download)
  spaces: null, // null = every space of the collection
};

function status(text, error = false) {
  const el = $("#status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

const query = new QueryBuilder(document.querySelector("section.query"), () => renderWeights());
query.onError = (text) => status(text, true);
query.onSubmit = () => search();

const results = new ResultsView({
  onOpen: (hit) => showItem(collection(), hit, page.model?.previews ?? [], {
    "#item-like": (h) => likeOnly(h.id),
    "#item-add": (h) => addLike(h.id, 1),
    "#item-unlike": (h) => addLike(h.id, NOT_LIKE_WEIGHT),
  }),
});

const collection = () => $("#collection").value;
const filters = new FilterRows($("#filters"));

/** The filter choices follow the collection: its fields, as GET .../fields lists them. An answer
 * for a collection no longer chosen (a slow one, overtaken by a later choice) is dropped. */
async function loadFields() {
  const name = collection();
  const fields = name ? await api.fields(name) : [];
  if (name === collection()) filters.setFields(fields, name);
}

// ---- collections and the model ----------------------------------------------------------

async function loadCollections(keep) {
  page.collections = await api.collections();
  const select = $("#collection");
  const current = keep ?? select.value;
  select.replaceChildren(...page.collections.map((c) => {
    const o = document.createElement("option");
    o.value = c.name;
    o.textContent = `${c.name} (${c.items} item${c.items === 1 ? "" : "s"}${c.pending ? `, ${c.pending} pending` : ""})`;
    return o;
  }));
  if (page.collections.some((c) => c.name === current)) select.value = current;
  $("#collection-names").replaceChildren(...page.collections.map((c) => new Option(c.name)));
  renderSpaces();
}

/** The loaded model builds the query parts; while it is still loading (503), ask again. */
async function loadModel() {
  for (;;) {
    try {
      page.model = await api.model();
      break;
    } catch (err) {
      if (err.status !== 503) throw err;
      status("The model is loading…");
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  query.setModel(page.model);
  // uploads offer what the model indexes: each option one modality the model takes
  const takes = new Set(page.model.item_modalities ?? ["rgb"]);
  for (const option of $("#upload-modality").options) option.hidden = option.disabled = !takes.has(option.value);
  $("#model-info").textContent = `model ${page.model.name} ${page.model.version ?? ""}`;
  showRelevanceNote(page.model.relevance_note ?? null);
  $("#access").textContent = ACCESS[page.model.access] ?? "";
}

/** What each access mode of the server (GET /v1/model) means to the person using the page. */
const ACCESS = {
  "keys": "API key required to change things",
  "open-local": "open: no API key, this machine only",
  "open-network": "open to the network: no API key (ANYSEEK_API__ALLOW_OPEN)",
};

/** A model without a relevance calibration: its results carry no relevance, so the minimum
 * relevance control is off and disabled, and the note saying why is shown once beside it. */
function showRelevanceNote(note) {
  const control = $("#min-score");
  control.disabled = note !== null;
  if (note !== null && minScore() !== null) {
    control.value = 0;
    control.dispatchEvent(new Event("input"));
  }
  $("#show-scores").closest("label").hidden = note !== null;
  $("#relevance-note").textContent = note ?? "";
  $("#relevance-note").hidden = note === null;
}

function renderSpaces() {
  const box = $("#spaces");
  const info = page.collections.find((c) => c.name === collection());
  const spaces = info?.spaces ?? [];
  box.replaceChildren(...spaces.map((s) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = s;
    box.checked = !page.spaces || page.spaces.includes(s);
    box.addEventListener("change", () => {
      const on = [...$("#spaces").querySelectorAll("input:checked")].map((i) => i.value);
      page.spaces = on.length === spaces.length ? null : on;
    });
    label.append(box, ` ${s}`);
    return label;
  }));
  if (spaces.length) box.insertAdjacentHTML("afterbegin", "<span class='muted'>spaces</span>");
}

// ---- weights --------------------------------------------------------------------------

function weightRow(label, value, onInput) {
  const row = document.createElement("label");
  row.className = "weight";
  const name = document.createElement("span");
  name.textContent = label;
  const range = Object.assign(document.createElement("input"),
    { type: "range", min: -2, max: 2, step: 0.05, value });
  range.setAttribute("aria-label", `weight of ${label}`);
  const out = document.createElement("output");
  const show = () => {
    const w = Number(range.value);
    const shown = Number.isInteger(w * 10) ? w.toFixed(1) : w.toFixed(2);
    out.textContent = w === 0 ? "off" : w < 0 ? `${shown} not like this` : shown;
  };
  range.addEventListener("input", () => { show(); onInput(Number(range.value)); });
  show();
  row.append(name, range, out);
  return row;
}

/** Each part's weight slider sits in the part it weighs; liked results have theirs in the list. */
function renderWeights() {
  const active = new Set(query.active());
  for (const editor of query.editors) {
    editor.root.querySelector(":scope > .weight")?.remove();
    if (!active.has(editor.name)) continue;
    editor.root.append(weightRow(editor.name, query.weights[editor.name], (w) => { query.weights[editor.name] = w; }));
  }
  $("#part-like").hidden = !query.like.length;
  $("#like-list").replaceChildren(...query.like.map((like) => {
    const li = document.createElement("li");
    const img = Object.assign(document.createElement("img"), { alt: `item ${like.id}` });
    showImage(img, api.thumbnailUrl(collection(), like.id));
    const row = weightRow(`item ${like.id}`, like.weight, (w) => { like.weight = w; renderPinned(); });
    const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "×" });
    remove.setAttribute("aria-label", `remove item ${like.id} from the query`);
    remove.addEventListener("click", () => { query.like = query.like.filter((l) => l !== like); renderWeights(); });
    row.append(remove);
    li.append(img, row);
    return li;
  }));
  renderPinned();
}

/** The results in the query, pinned above the grid: a liked item is the query, so the server
 * leaves it out of the results; this says so where the results are. */
function renderPinned() {
  const liked = query.like.filter((l) => l.weight > 0);
  const box = $("#pinned");
  box.hidden = !liked.length;
  box.replaceChildren(...liked.map((l) => {
    const figure = document.createElement("figure");
    const img = Object.assign(document.createElement("img"), { alt: `item ${l.id}, your query` });
    showImage(img, api.thumbnailUrl(collection(), l.id));
    const text = document.createElement("figcaption");
    text.textContent = `item ${l.id}: your query (results like it follow)`;
    figure.append(img, text);
    return figure;
  }));
}

function likeOnly(id) {
  query.reset();
  query.like = [];
  query.like = [{ id, weight: 1 }];
  renderWeights();
  search();
}

function addLike(id, weight) {
  query.like = query.like.filter((l) => l.id !== id).concat([{ id, weight }]);
  renderWeights();
  search();
}

// ---- state in the URL -------------------------------------------------------------------

/** The minimum relevance (0..1), or null when off (0, or a model without a calibration). */
function minScore() {
  const v = Number($("#min-score").value);
  return v <= 0 || $("#min-score").disabled ? null : v;
}

function currentState() {
  return {
    c: collection(), ...query.toState(), spaces: page.spaces, min: minScore(), f: filters.conditions(),
    explain: $("#explain").checked, k: Number($("#page-size").value),
  };
}

async function applyState(s) {
  await query.fromState(s);
  if (s.c && page.collections.some((c) => c.name === s.c)) $("#collection").value = s.c;
  await loadFields();
  filters.load(s.f);
  page.spaces = s.spaces ?? null;
  $("#min-score").value = s.min ?? 0;
  $("#min-score").dispatchEvent(new Event("input"));
  $("#explain").checked = Boolean(s.explain);
  $("#page-size").value = String(s.k || 24);
  renderSpaces();
  renderWeights();
}

// ---- search -----------------------------------------------------------------------------

async function search() {
  let parts, filter;
  try {
    parts = query.parts();
    filter = filters.toRequest();
  } catch (err) {
    status(err.message, true);
    return;
  }
  const like = query.like.filter((l) => l.weight !== 0);
  if (!parts.length && !like.length) {
    status("The query is empty: draw, paint, type or pick a result first.", true);
    return;
  }
  const request = { parts, like, k: Number($("#page-size").value), explain: $("#explain").checked };
  if (page.spaces) request.spaces = Object.fromEntries(page.spaces.map((s) => [s, 1]));
  if (minScore() !== null) request.min_relevance = minScore();
  if (filter) request.filter = filter;
  const fragment = await encodeState(currentState());
  if (location.hash.slice(1) !== fragment) history.pushState(null, "", `#${fragment}`);
  await run(request);
}

async function run(request, more = false) {
  const name = collection();
  status("Searching…");
  $("#search").disabled = true;
  $("#more").disabled = true;
  try {
    const t0 = performance.now();
    const response = await api.search(name, request);
    page.request = request;
    if (!more) results.clear();
    results.append(name, response);
    page.cursor = response.next_cursor;
    const ms = Math.round(performance.now() - t0);
    const n = results.hits.length;
    const pinned = query.like.filter((l) => l.weight > 0).length;
    status(n ? `${n} result${n === 1 ? "" : "s"} shown${response.next_cursor ? ", more as you scroll" : ""} (${ms} ms)`
      + (pinned ? "; the pinned item is your query, so it is not among them" : "")
      : `No results${request.filter ? " match the filters" : ""} at or above the minimum relevance.`);
    if (!more) {
      showExplain(response.explanation, response.relevance_note ?? null);
      $("#show-explain").disabled = !response.explanation;
      query.showWarnings(response.warnings || []);
      // on a phone the results are below the query: bring them into view
      if (matchMedia("(max-width: 680px)").matches) $("#results").scrollIntoView({ block: "start" });
    }
    results.settle();
    $("#download").disabled = !results.hits.length;
  } catch (err) {
    if (err.status === 401) askForKey(err.message);
    else status(err.message, true);
  } finally {
    $("#search").disabled = false;
    $("#more").disabled = false;
    // a counter of answered searches: tests (and scripts) wait on it
    document.body.dataset.searched = String(Number(document.body.dataset.searched || 0) + 1);
  }
}

function download() {
  const { parts, ...params } = page.request;
  const body = {
    collection: collection(), url: location.href, params,
    parts: parts.map((p) => ({ modality: p.modality, weight: p.weight, text: p.text })),
    hits: results.hits,
  };
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([JSON.stringify(body, null, 2)], { type: "application/json" }));
  a.download = `anyseek-${collection()}-results.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---- API key -----------------------------------------------------------------------------

function askForKey(message) {
  $("#key-panel").open = true;
  $("#api-key").focus();
  status(`This server wants an API key (${message}): enter it under "API key".`, true);
}

function wireKey() {
  $("#api-key").value = apiKey.get();
  $("#key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    apiKey.set($("#api-key").value.trim());
    try {
      await Promise.all([loadModel(), loadCollections()]);
      await loadFields();
      status("Key saved for this tab.");
      await fromUrl();
    } catch (err) {
      if (err.status === 401) askForKey(err.message);
      else status(err.message, true);
    }
  });
}

// ---- start ------------------------------------------------------------------------------

async function fromUrl(event) {
  const state = await decodeState(location.hash);
  if (!state) {
    if (event?.type === "popstate") newQuery(); // back to the page before any search
    return;
  }
  await applyState(state);
  await search();
}

/** "New query": an empty query, no results, no explanation, options as on a first visit. */
function newQuery() {
  query.reset();
  filters.clear();
  results.clear();
  page.request = null;
  $("#min-score").value = 0;
  $("#min-score").dispatchEvent(new Event("input"));
  renderWeights();
  showExplain(null);
  $("#show-explain").disabled = true;
  $("#download").disabled = true;
  status("Build a query and press Search.");
  if (location.hash) history.pushState(null, "", location.pathname + location.search);
}

async function start() {
  $("#search").addEventListener("click", search);
  $("#reset").addEventListener("click", newQuery);
  $("#show-explain").addEventListener("click", () => { $("#explain-panel").hidden = false; $("#explain-close").focus(); });
  $("#explain-close").addEventListener("click", () => { $("#explain-panel").hidden = true; $("#show-explain").focus(); });
  $("#more").addEventListener("click", () => page.cursor && run({ ...page.request, cursor: page.cursor }, true));
  $("#download").addEventListener("click", download);
  $("#copy-link").addEventListener("click", async () => {
    await navigator.clipboard?.writeText(location.href).catch(() => {});
    status("Link copied: it opens this exact search.");
  });
  $("#collection").addEventListener("change", () => {
    page.spaces = null;
    $("#upload-collection").value = collection();
    renderSpaces();
    renderWeights();
    loadFields().catch((err) => status(err.message, true));
  });
  $("#show-duplicates").addEventListener("click", () => showDuplicates(collection(), (err) => {
    if (err.status === 401) askForKey(err.message);
    else status(err.message, true);
  }));
  $("#min-score").addEventListener("input", (e) => {
    $("#min-score-out").textContent = minScore() === null ? "off" : Number(e.target.value).toFixed(2);
  });
  window.addEventListener("popstate", fromUrl);
  wireKey();
  const target = () => $("#upload-collection").value.trim() || collection();
  const uploads = new Uploads(target, () => loadCollections(), (err) => {
    if (err.status === 401) askForKey(err.message);
    else status(`upload: ${err.message}`, true);
  });
  try {
    await Promise.all([loadModel(), loadCollections()]);
    await loadFields();
    await uploads.showRecent();
    $("#upload-collection").value ||= collection();
    await fromUrl();
  } catch (err) {
    if (err.status === 401) askForKey(err.message);
    else status(`The server did not answer: ${err.message}`, true);
  }
  document.body.dataset.ready = "1"; // tests wait for this
}

start();
