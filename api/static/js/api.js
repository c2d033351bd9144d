// Every call the page makes to the anyseek HTTP API (same origin, under /v1), in one place.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.field = problem?.field || null;
  }
}

// The API key (when the server wants one) lives in this tab's session storage, never in the URL:
// a shared link must not carry a secret.
const KEY_STORE = "anyseek.apiKey";
export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORE) || "",
  set: (key) => (key ? sessionStorage.setItem(KEY_STORE, key) : sessionStorage.removeItem(KEY_STORE)),
};

function headers(extra = {}) {
  const key = apiKey.get();
  return key ? { ...extra, "X-API-Key": key } : extra;
}

/** Show an API image in an <img>: a plain src, or fetched with the key when one is set. */
export async function showImage(img, url) {
  if (!apiKey.get()) {
    img.src = url;
    return;
  }
  const response = await fetch(url, { headers: headers() });
  if (!response.ok) return;
  img.src = URL.createObjectURL(await response.blob());
  img.addEventListener("load", () => URL.revokeObjectURL(img.src), { once: true });
}

async function call(method, path, body) {
  const init = { method, headers: headers({ Accept: "application/json" }) };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  const type = response.headers.get("Content-Type") || "";
  // errors come as application/problem+json; anything else that is not JSON is no API answer
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data || { detail: `${method} ${path}: HTTP ${response.status}` });
  if (data === null && response.status !== 204) throw new ApiError(response.status, { detail: `${method} ${path}: not a JSON answer` });
  return data;
}

const enc = encodeURIComponent;

export const api = {
  model: () => call("GET", "/v1/model"),
  collections: () => call("GET", "/v1/collections").then((r) => r.collections),
  createCollection: (name) => call("POST", "/v1/collections", { name }),
  search: (collection, request) => call("POST", `/v1/collections/${enc(collection)}/search`, request),
  upload(collection, files, modality = "rgb") {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    form.append("modality", modality);
    return call("POST", `/v1/collections/${enc(collection)}/items`, form);
  },
  job: (id) => call("GET", `/v1/jobs/${enc(id)}`),
  jobs: (collection) => call("GET", `/v1/jobs?limit=5${collection ? `&collection=${enc(collection)}` : ""}`),
  fields: (collection) => call("GET", `/v1/collections/${enc(collection)}/fields`).then((r) => r.fields),
  duplicates: (collection) => call("GET", `/v1/collections/${enc(collection)}/duplicates`),
  item: (collection, id) => call("GET", `/v1/collections/${enc(collection)}/items/${id}`),
  thumbnailUrl: (collection, id, kind = "image") =>
    `/v1/collections/${enc(collection)}/items/${id}/thumbnail${kind === "image" ? "" : `?kind=${kind}`}`,
  imageUrl: (collection, id) => `/v1/collections/${enc(collection)}/items/${id}/image`,
};
