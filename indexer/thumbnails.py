"""Where item thumbnails live and how they are made: one small JPEG per item, for the web page,
and beside it, when the model reconstructs (MultiMAE), its predicted depth and segmentation PNGs."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from anyseek.errors import write_failed
from anyseek.settings import Settings

THUMBNAIL_QUALITY = 85


def thumbnail_dir(settings: Settings, collection: str) -> Path:
    """The folder holding one collection's thumbnails."""
    return settings.data_dir / "thumbnails" / collection


def thumbnail_path(settings: Settings, collection: str, item_id: int) -> Path:
    """``<data_dir>/thumbnails/<collection>/<item_id>.jpg``: the one place this path is spelled."""
    return thumbnail_dir(settings, collection) / f"{int(item_id)}.jpg"


def reconstruction_path(settings: Settings, collection: str, item_id: int, kind: str) -> Path:
    """``<data_dir>/thumbnails/<collection>/<item_id>.<kind>.png`` (kind: depth | semseg)."""
    return thumbnail_dir(settings, collection) / f"{int(item_id)}.{kind}.png"


def make_thumbnail(image: Image.Image, size: int) -> bytes:
    """An RGB image -> JPEG bytes whose longest side is at most ``size`` pixels."""
    small = image.copy()
    small.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.convert("RGB").save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def write_thumbnail(path: Path, jpeg: bytes) -> None:
    """Write a thumbnail atomically (temp file + rename), so a reader never sees half a file."""
    write_thumbnails([(path, jpeg)])


def write_thumbnails(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write many thumbnails atomically, their folders made once. One after another: creating
    a file costs 0.65-1 ms on the shared VM disk whether 1 or 8 threads create them. A failed
    write (a full disk) is a ``WriteFailedError`` naming the folder."""
    folder = None
    try:
        for folder in {path.parent for path, _ in files}:
            folder.mkdir(parents=True, exist_ok=True)
        for path, jpeg in files:
            folder = path.parent
            _write_file(path, jpeg)
    except OSError as error:
        raise write_failed("thumbnails", folder, error) from error


def _write_file(path: Path, jpeg: bytes) -> None:
    """Temp file, then rename: a reader never sees half a thumbnail (nor a failed write's
    temp file)."""
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        temp.write_bytes(jpeg)
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)
        raise
