"""Test images for indexing: generated scenes, valid images in odd modes, broken files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from anyseek.scenes import generate_scene

GOOD_SCENES = 6


def scene_png(seed: int) -> bytes:
    """A generated 64 px scene as PNG bytes."""
    out = io.BytesIO()
    Image.fromarray(generate_scene(seed, 64).rgb).save(out, format="PNG")
    return out.getvalue()


def encoded(image: Image.Image, fmt: str) -> bytes:
    """An image saved in ``fmt``."""
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def write_good_images(root: Path, count: int = GOOD_SCENES, first_seed: int = 0) -> list[Path]:
    """``count`` distinct generated scenes, half of them in a sub-folder."""
    paths = []
    for n in range(count):
        path = root / ("sub" if n % 2 else "") / f"scene{first_seed + n}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(scene_png(first_seed + n))
        paths.append(path)
    return paths


def write_odd_modes(root: Path) -> dict[str, Path]:
    """Valid images in awkward modes: CMYK JPEG, 16-bit grey PNG, palette with alpha."""
    rng = np.random.default_rng(0)
    cmyk = Image.fromarray(rng.integers(0, 255, (300, 600, 4), dtype=np.uint8), mode="CMYK")
    grey16 = Image.fromarray(rng.integers(0, 65535, (80, 90), dtype=np.uint16))
    palette = Image.fromarray(rng.integers(0, 255, (70, 50, 3), dtype=np.uint8)).convert("P")
    palette.info["transparency"] = 0
    files = {
        "cmyk": (root / "cmyk.jpg", encoded(cmyk, "JPEG")),
        "grey16": (root / "grey16.png", encoded(grey16, "PNG")),
        "palette": (root / "palette.png", encoded(palette, "PNG")),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {name: path for name, (path, _) in files.items()}


def write_broken(root: Path) -> dict[str, Path]:
    """Files that must fail with a reason: truncated, empty, text, decompression bomb."""
    bomb = encoded(Image.new("1", (10_000, 10_000)), "PNG")  # 100 MP in a few kB
    files = {
        "truncated": (root / "truncated.png", scene_png(99)[:300]),
        "empty": (root / "empty.jpg", b""),
        "text": (root / "notes.jpg", b"this is a text file, not a photo\n" * 10),
        "bomb": (root / "bomb.png", bomb),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {name: path for name, (path, _) in files.items()}


def write_scene_parts(root: Path, count: int, first_seed: int = 100) -> list[str]:
    """``count`` generated scenes as the scene world writes them (``rgb/``, ``depth/`` as
    16-bit PNG, ``semseg/``, ``sketch/``...: ``root/MODALITY/00000N.png``); their first
    captions, in order."""
    from anyseek.scenes.dataset import make_split_dirs, write_images

    make_split_dirs(root)
    captions = []
    for n in range(count):
        sample = generate_scene(first_seed + n, 64)
        write_images(root, n, sample)
        captions.append(sample.captions[0])
    return captions
