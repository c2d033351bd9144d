"""A small, fast PNG writer for the generator's images: uint8 grey/RGB/RGBA, or uint16 grey.

Pillow's ``Image.save`` spends several times longer in its plugin machinery than zlib spends
compressing a 64 px image, and the generator writes seven images per scene. This writer does only
what the PNG specification requires: the IHDR/IDAT/IEND chunks, each row "Up"-filtered with numpy
(the difference to the row above, which compresses smooth images about as well as adaptive
filtering), one zlib stream, and a single write of the finished file. Any PNG reader decodes the
result to exactly the input array.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPE = {1: 0, 3: 2, 4: 6}
"""PNG colour type by channel count: greyscale, truecolour, truecolour with alpha."""
UP_FILTER = 2


def _chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, tag, data and the CRC of tag + data."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(array: np.ndarray, level: int = 1) -> bytes:
    """PNG file bytes of an (H, W) or (H, W, C) uint8 array (C in 1, 3, 4) or (H, W) uint16 one.

    16-bit colour is left out on purpose: Pillow, which reads the dataset back, cannot load it.
    """
    channels = 1 if array.ndim == 2 else array.shape[-1]
    if array.ndim not in (2, 3) or channels not in COLOUR_TYPE:
        raise ValueError(f"PNG needs an (H, W) or (H, W, 1|3|4) array, got {array.shape}")
    if not (array.dtype == np.uint8 or (array.dtype == np.uint16 and channels == 1)):
        raise ValueError(f"PNG needs uint8 pixels or uint16 greyscale, got {array.dtype}")
    height, width = array.shape[:2]
    rows = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">")).view(np.uint8)
    rows = rows.reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = UP_FILTER
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as the filter defines
    header = struct.pack(
        ">IIBBBBB", width, height, array.dtype.itemsize * 8, COLOUR_TYPE[channels], 0, 0, 0
    )
    return b"".join(
        (
            SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(filtered.tobytes(), level)),
            _chunk(b"IEND", b""),
        )
    )


def write_png(path: str | Path, array: np.ndarray, level: int = 1) -> None:
    """Write ``array`` to ``path`` as a PNG with one open/write/close."""
    data = encode_png(array, level)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:  # a regular file takes it all at once; loop in case it does not
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
