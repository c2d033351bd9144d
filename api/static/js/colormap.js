// False colours for depth previews: a compact approximation of the "turbo" colormap
// (near = warm, far = cool), so a small depth difference is still visible.

const STOPS = [
  [0.0, [122, 4, 3]], [0.15, [222, 61, 13]], [0.3, [251, 147, 38]], [0.45, [201, 239, 52]],
  [0.6, [70, 246, 132]], [0.75, [27, 207, 212]], [0.9, [62, 128, 243]], [1.0, [48, 18, 59]],
];

/** t in [0, 1] (0 = near) -> [r, g, b]. */
export function turbo(t) {
  t = Math.min(1, Math.max(0, t));
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i];
    if (t <= t1) {
      const [t0, c0] = STOPS[i - 1];
      const f = (t - t0) / (t1 - t0);
      return c0.map((v, k) => Math.round(v + f * (c1[k] - v)));
    }
  }
  return STOPS[STOPS.length - 1][1];
}
