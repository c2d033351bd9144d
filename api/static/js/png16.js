// A small PNG decoder for greyscale depth maps: browsers decode 16-bit PNGs to 8 bits, which
// would leave a depth map of a few metres with only ~40 distinct levels. Handles non-interlaced
// greyscale (type 0) and grey+alpha (type 4) at 8 or 16 bits; other PNGs return null.

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decode a greyscale PNG -> {width, height, data: Float32Array of raw values}, or null. */
export async function decodeGreyPng(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  if (view.getUint32(0) !== 0x89504e47) return null;
  let pos = 8, width = 0, height = 0, depth = 0, type = 0, interlace = 0;
  const idat = [];
  while (pos < bytes.length) {
    const len = view.getUint32(pos);
    const kind = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (kind === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      [depth, type] = [body[8], body[9]];
      interlace = body[12];
    } else if (kind === "IDAT") idat.push(body);
    else if (kind === "IEND") break;
    pos += 12 + len;
  }
  if (![0, 4].includes(type) || ![8, 16].includes(depth) || interlace) return null;
  const raw = await inflate(new Uint8Array(await new Blob(idat).arrayBuffer()));
  const channels = type === 4 ? 2 : 1;
  const bpp = channels * (depth / 8);
  const stride = width * bpp;
  const out = new Float32Array(width * height);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.slice(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? line[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      const add = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      line[i] = (line[i] + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const at = x * bpp;
      out[y * width + x] = depth === 16 ? (line[at] << 8) | line[at + 1] : line[at];
    }
    prev = line;
  }
  return { width, height, data: out };
}
