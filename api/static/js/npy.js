// Reading and writing NumPy .npy files: depth maps travel to the server as float32 .npy so no
// precision is lost (a browser canvas would squash a 16-bit PNG to 8 bits).

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

const DTYPES = {
  "<f4": [Float32Array, 4], "<f8": [Float64Array, 8], "<u2": [Uint16Array, 2],
  "<i2": [Int16Array, 2], "<u4": [Uint32Array, 4], "<i4": [Int32Array, 4],
  "|u1": [Uint8Array, 1], "<u1": [Uint8Array, 1], "|i1": [Int8Array, 1],
};

/** Whether the bytes start like a .npy file. */
export function isNpy(bytes) {
  return MAGIC.every((b, i) => bytes[i] === b);
}

/** Parse a little-endian, C-order 2-D (or squeezable 3-D) .npy array -> {width, height, data}. */
export function readNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  if (!isNpy(bytes)) throw new Error("not a .npy file");
  const major = bytes[6];
  const view = new DataView(buffer);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] || "")
    .split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (!DTYPES[descr]) throw new Error(`unsupported .npy dtype ${descr}`);
  if (fortran) throw new Error("Fortran-order .npy arrays are not supported");
  const dims = shape.filter((d) => d !== 1);
  if (dims.length !== 2) throw new Error(`expected a 2-D depth map, got shape (${shape})`);
  const [Kind, size] = DTYPES[descr];
  const offset = start + headerLen;
  const count = dims[0] * dims[1];
  // copy: the data offset need not be aligned for the typed array
  const data = new Kind(buffer.slice(offset, offset + count * size));
  return { height: dims[0], width: dims[1], data: Float32Array.from(data) };
}

/** A float32 .npy file of a [height, width] array, as bytes. */
export function writeNpy(data, height, width) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${height}, ${width}), }`;
  // the header is padded with spaces so the data starts on a 64-byte boundary
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(Float32Array.from(data).buffer), 10 + header.length);
  return out;
}
