"""Precision and recall of the near-duplicate threshold with the built-in model.

Distinct generated scenes, and of each one four copies a user would call the same picture: a JPEG
re-encode (quality 70), a resize (to 60 %), a centre crop (85 % of each side) and a slight
recolouring (saturation x1.15, brightness x1.05). Similarity is what the indexer measures: the
mean cosine over the model's spaces. A pair at or above the threshold is called a near-duplicate;
recall counts copies called duplicates of their original, precision counts how many of all the
pairs called duplicates (copies and distinct scenes alike) are copies.

    python bench/near_duplicates.py --scenes 200 --thresholds 0.9 0.93 0.95 0.97
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = ("jpeg", "resize", "crop", "recolour")


def variant(image, kind: str):
    """One near-duplicate copy of a PIL image."""
    from PIL import Image, ImageEnhance

    if kind == "jpeg":
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=70)
        return Image.open(io.BytesIO(out.getvalue())).convert("RGB")
    if kind == "resize":
        return image.resize((int(image.width * 0.6), int(image.height * 0.6)), Image.BICUBIC)
    if kind == "crop":
        w, h = image.size
        dx, dy = int(w * 0.075), int(h * 0.075)
        return image.crop((dx, dy, w - dx, h - dy))
    if kind == "recolour":
        return ImageEnhance.Brightness(ImageEnhance.Color(image).enhance(1.15)).enhance(1.05)
    raise ValueError(kind)


def main() -> None:
    """Embed scenes and copies, then report precision and recall per threshold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.9, 0.93, 0.95, 0.97])
    args = parser.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    from anyseek.model.families.registry import load_search_model
    from anyseek.scenes import generate_scene

    model = load_search_model("builtin")
    start = time.perf_counter()
    originals = [
        Image.fromarray(generate_scene(900_000 + i, args.size).rgb) for i in range(args.scenes)
    ]
    images = originals + [variant(img, kind) for kind in VARIANTS for img in originals]

    def embed(batch):
        with torch.inference_mode():
            vectors = model.embed_images(torch.stack([model.image_input(i) for i in batch]))
        spaces = sorted(vectors)
        unit = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in (vectors[s] for s in spaces)]
        return np.concatenate(unit, axis=1) / np.sqrt(len(spaces))  # dot = mean cosine

    rows = np.concatenate([embed(images[i : i + 64]) for i in range(0, len(images), 64)])
    n = args.scenes
    base = rows[:n]
    copies = {kind: rows[n * (k + 1) : n * (k + 2)] for k, kind in enumerate(VARIANTS)}
    to_original = {kind: np.einsum("ij,ij->i", c, base) for kind, c in copies.items()}
    distinct = base @ base.T
    distinct = distinct[np.triu_indices(n, 1)]
    # a copy also meets other scenes: its best similarity to a scene that is not its original
    cross = []
    for c in copies.values():
        sims = c @ base.T
        np.fill_diagonal(sims, -2)
        cross.append(sims.max(axis=1))
    cross = np.concatenate(cross)
    seconds = time.perf_counter() - start

    print(f"## near-duplicates, built-in model: {n} scenes at {args.size} px, 4 copies each")
    print()
    print("similarity (mean cosine over spaces), copy to its original:")
    print()
    print("| copy | min | 5th pct | median |")
    print("|---|---|---|---|")
    for kind, sims in to_original.items():
        print(
            f"| {kind} | {sims.min():.4f} | {np.percentile(sims, 5):.4f} | {np.median(sims):.4f} |"
        )
    print(
        f"| distinct scenes (max of {len(distinct)} pairs; 99.9th pct) | {distinct.max():.4f} | "
        f"{np.percentile(distinct, 99.9):.4f} | {np.median(distinct):.4f} |"
    )
    print()
    print(
        "| threshold | recall (all) | jpeg | resize | crop | recolour | false pairs | precision |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for t in args.thresholds:
        hits = {kind: float((s >= t).mean()) for kind, s in to_original.items()}
        true = sum(int((s >= t).sum()) for s in to_original.values())
        false = int((distinct >= t).sum()) + int((cross >= t).sum())
        recall = true / (n * len(VARIANTS))
        precision = true / (true + false) if true + false else 1.0
        cells = " | ".join(f"{hits[k]:.3f}" for k in VARIANTS)
        print(f"| {t} | {recall:.3f} | {cells} | {false} | {precision:.4f} |")
    print()
    print(f"{len(images)} images embedded and compared in {seconds:.0f} s (CPU)")


if __name__ == "__main__":
    main()
