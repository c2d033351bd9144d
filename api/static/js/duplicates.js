// The near-duplicate groups of a collection (GET /v1/collections/{name}/duplicates) in a dialog:
// each group's first image, then the images linked to it with how alike they are.

import { api, showImage } from "./api.js";

const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);

/** The file name of a source path or URL: what a person recognises an image by. */
const fileName = (uri) => uri.split(/[\\/]/).pop() || uri;

function member(collection, m, role) {
  const figure = el("figure", { className: `dup-${role}` });
  figure.dataset.id = String(m.id);
  const img = el("img", { alt: fileName(m.source_uri), loading: "lazy" });
  showImage(img, api.thumbnailUrl(collection, m.id));
  const caption = el("figcaption");
  caption.textContent = role === "original"
    ? `${fileName(m.source_uri)} (first indexed)`
    : `${fileName(m.source_uri)}: ${(m.similarity ?? 0).toFixed(3)} alike`;
  caption.title = m.source_uri;
  figure.append(img, caption);
  return figure;
}

/** Open the dialog on the collection's groups; onError gets a failed call. */
export async function showDuplicates(collection, onError) {
  const dialog = document.querySelector("#duplicates-view");
  const body = dialog.querySelector("#duplicates-body");
  const summary = dialog.querySelector("#duplicates-status");
  body.replaceChildren();
  summary.textContent = "Loading…";
  if (!dialog.open) dialog.showModal();
  let groups;
  try {
    ({ groups } = await api.duplicates(collection));
  } catch (err) {
    dialog.close();
    onError(err);
    return;
  }
  const copies = groups.reduce((n, g) => n + g.duplicates.length, 0);
  summary.textContent = groups.length
    ? `${groups.length} group${groups.length === 1 ? "" : "s"} in ${collection}, ${copies} near-duplicate${copies === 1 ? "" : "s"}`
    : `No near-duplicates in ${collection}.`;
  body.replaceChildren(...groups.map((g) => {
    const li = el("li", { className: "dup-group" });
    li.dataset.original = String(g.original.id);
    li.append(member(collection, g.original, "original"), ...g.duplicates.map((d) => member(collection, d, "copy")));
    return li;
  }));
  dialog.dataset.loaded = String(Number(dialog.dataset.loaded || 0) + 1); // tests wait on it
}
