"""Hostile query files for the reliability tests and bench: small on the wire, costly if trusted."""

from __future__ import annotations

import base64
import io
import os
import struct
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image


def npy_header(shape: tuple[int, ...], dtype: str = "<f4", version: int = 1) -> bytes:
    """A ``.npy`` header declaring ``shape`` with no data behind it (what a liar sends)."""
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}"
    size_bytes = 2 if version == 1 else 4
    pad = (-(6 + 2 + size_bytes + len(header) + 1)) % 64
    header = header + " " * pad + "\n"
    size = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode("latin1")


def npy_bomb() -> bytes:
    """128 bytes declaring a 37 GiB float32 array (issue 24)."""
    return npy_header((100_000, 100_000))


def npy_bytes(array: np.ndarray) -> bytes:
    """An honest ``.npy`` file."""
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def big_flat_png(width: int, height: int, mode: str = "P") -> bytes:
    """A PNG of many pixels that compresses to almost nothing (slow to decode, small to send)."""
    out = io.BytesIO()
    Image.new(mode, (width, height), 2).save(out, format="PNG", optimize=False)
    return out.getvalue()


def slow_segmentation_png(width: int, height: int) -> bytes:
    """A small PNG of colour gradients: every pixel off the palette, slow to map (~0.3 s/MP)."""
    array = np.zeros((height, width, 3), np.uint8)
    array[..., 0] = (np.arange(width) % 256)[None]
    array[..., 1] = (np.arange(height) % 256)[:, None]
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def hostile_requests(stream_mb: int = 200) -> list[tuple[str, Callable[[], dict]]]:
    """Hostile searches: (kind, a maker of ``httpx`` request keyword arguments); a maker with
    ``files`` goes to the upload route."""

    def part(modality: str, data: bytes) -> Callable[[], dict]:
        encoded = base64.b64encode(data).decode()
        return lambda: {"json": {"parts": [{"modality": modality, "data": encoded}]}}

    def streamed() -> Iterator[bytes]:
        for _ in range(stream_mb):  # no Content-Length: the server must cut it off itself
            yield b"x" * (1 << 20)

    slow = slow_segmentation_png(2800, 2800)  # 7.8 MP: under the query pixel limit, slow
    return [
        ("npy bomb (json)", part("depth", npy_bomb())),
        ("npy bomb (multipart)", lambda: {"files": {"depth": ("d.npy", npy_bomb())}}),
        ("npy truncated", part("depth", npy_header((64, 64)) + b"\x00" * 10)),
        ("slow segmentation 7.8 MP", lambda: {"files": {"semseg": ("s.png", slow)}}),
        ("garbage image", part("image", os.urandom(2048))),
        (
            f"streamed body {stream_mb} MB",
            lambda: {"content": streamed(), "headers": {"content-type": "application/json"}},
        ),
    ]
