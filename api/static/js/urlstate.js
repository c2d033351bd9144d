// The whole query in the URL fragment: JSON, deflated and base64url-encoded, so a search can be
// shared or reloaded (drawings included) without the server keeping anything.

async function pipe(bytes, transform) {
  const stream = new Blob([bytes]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** state object -> the fragment's text (without '#'). */
export async function encodeState(state) {
  const packed = await pipe(new TextEncoder().encode(JSON.stringify(state)),
    new CompressionStream("deflate-raw"));
  const b64 = toBase64(packed).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `q=${b64}`;
}

/** The fragment's text -> the state object, or null when there is none or it is unreadable. */
export async function decodeState(fragment) {
  const b64 = new URLSearchParams(fragment.replace(/^#/, "")).get("q");
  if (!b64) return null;
  try {
    const bytes = fromBase64(b64.replace(/-/g, "+").replace(/_/g, "/"));
    const json = await pipe(bytes, new DecompressionStream("deflate-raw"));
    return JSON.parse(new TextDecoder().decode(json));
  } catch (err) {
    console.warn("unreadable query in the URL", err);
    return null;
  }
}
