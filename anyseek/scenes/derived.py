"""Modalities computed from the rendered maps: Canny edges, colour palette and image metadata.

These mirror the 4M-21 "derived" modalities: edges are Canny edges of the RGB image, the colour
palette is the image's dominant colours, and metadata is a fixed set of scalar descriptors
(counts, brightness, contrast, colourfulness, ...). Here they are computed from exact ground
truth where 4M-21 had to use pseudo-labels (e.g. instance counts come from the instance map).
"""

from __future__ import annotations

import numpy as np
from skimage.feature import canny

from anyseek.scenes.layout import ObjectView

PALETTE_MAX = 7
PALETTE_MIN_FRACTION = 0.02
_GRAY = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def canny_edges_batch(images: list[np.ndarray]) -> list[np.ndarray]:
    """Canny edge maps (S, S) uint8 of same-size RGB images, 255 on edges (sigma grows with
    resolution), in one call.

    The images are stacked with masked gaps wider than the Gaussian support, so each result is
    exactly what the image gives on its own; one call saves scikit-image's per-call overhead.
    """
    size = images[0].shape[0]
    sigma = max(1.0, size / 112.0)
    gap = 2 * int(4.0 * sigma + 0.5) + 2  # Gaussian truncated at 4 sigma on both sides
    pitch = size + gap
    gray = np.zeros((len(images) * pitch, size), dtype=np.float32)
    mask = np.zeros(gray.shape, dtype=bool)
    for i, rgb in enumerate(images):
        gray[i * pitch : i * pitch + size] = rgb.astype(np.float32) @ _GRAY / 255.0
        mask[i * pitch : i * pitch + size] = True
    edges = canny(gray, sigma=sigma, low_threshold=0.06, high_threshold=0.14, mask=mask)
    out = edges.astype(np.uint8) * 255
    return [out[i * pitch : i * pitch + size] for i in range(len(images))]


def color_palette(rgb: np.ndarray) -> tuple[tuple[tuple[int, int, int], float], ...]:
    """Up to 7 dominant colours with the fraction of pixels each covers, most common first.

    Pixels are binned on a 8x8x8 RGB grid; each bin that covers at least 2 % of the image
    contributes its mean colour.
    """
    flat = rgb.reshape(-1, 3)
    bins = (flat[:, 0] >> 5).astype(np.int32) * 64 + (flat[:, 1] >> 5) * 8 + (flat[:, 2] >> 5)
    counts = np.bincount(bins, minlength=512)
    order = np.argsort(-counts, kind="stable")[:PALETTE_MAX]
    total = float(len(bins))
    sums = np.stack([np.bincount(bins, weights=flat[:, c], minlength=512) for c in range(3)], 1)
    out = []
    for b in order:
        if counts[b] / total < PALETTE_MIN_FRACTION:
            break
        mean = sums[b] / counts[b]
        out.append((tuple(round(v) for v in mean), round(float(counts[b]) / total, 4)))
    return tuple(out)


def metadata(
    rgb: np.ndarray,
    normals: np.ndarray,
    semseg: np.ndarray,
    views: tuple[ObjectView, ...],
    captions: tuple[str, ...],
) -> dict[str, float | int]:
    """Scalar image descriptors in the spirit of 4M-21's metadata modality."""
    r, g, b = (rgb[..., c].astype(np.float32) * (1.0 / 255.0) for c in range(3))
    gray = 0.299 * r + 0.587 * g + 0.114 * b
    mx, mn = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    saturation = (mx - mn) / np.maximum(mx, 1e-6)
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    hist = np.bincount((gray * 255).astype(np.int32).ravel(), minlength=256) / gray.size
    entropy = float(-(hist[hist > 0] * np.log2(hist[hist > 0])).sum())
    mean_normal = normals.reshape(-1, 3).mean(axis=0)
    visible = [v for v in views if v.pixels > 0]
    class_pixels = np.bincount(semseg.ravel(), minlength=8)
    classes = np.flatnonzero(class_pixels)
    total = float(semseg.size)
    return {
        "image_size": int(rgb.shape[0]),
        "object_count": len(views),
        "instance_count": len(visible),
        "mentioned_count": sum(v.mentionable for v in views),
        "semantic_class_count": len(classes),
        "shape_class_count": int((classes >= 2).sum()),
        "objectness": round(float(class_pixels[2:].sum()) / total, 4),
        "walkability": round(float(class_pixels[1]) / total, 4),
        "brightness": round(float(gray.mean()), 4),
        "contrast": round(float(gray.std()), 4),
        "saturation": round(float(saturation.mean()), 4),
        "colorfulness": round(colourfulness, 4),
        "entropy": round(entropy, 4),
        "geometric_complexity": round(float(1.0 - np.linalg.norm(mean_normal)), 4),
        "caption_length": len(captions[0].split()) if captions else 0,
    }
