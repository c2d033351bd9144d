"""The PNG writer: any PNG reader gives back exactly the array that was written."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from anyseek.scenes.png import write_png


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((5, 7), np.uint8),
        ((5, 7, 3), np.uint8),
        ((6, 4, 4), np.uint8),
        ((3, 5, 1), np.uint8),
        ((1, 1), np.uint8),
        ((9, 3), np.uint16),
    ],
)
def test_round_trip_through_pillow(tmp_path, shape, dtype):
    rng = np.random.default_rng(sum(shape))
    array = rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)
    write_png(tmp_path / "a.png", array)
    with Image.open(tmp_path / "a.png") as img:
        back = np.asarray(img)
    assert back.dtype == dtype and np.array_equal(back.reshape(shape), array)


def test_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "a.png"
    write_png(path, np.full((8, 8), 200, np.uint8))
    write_png(path, np.zeros((2, 3), np.uint8))
    with Image.open(path) as img:
        assert np.asarray(img).shape == (2, 3) and not np.asarray(img).any()


@pytest.mark.parametrize(
    "array",
    [np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint16), np.zeros((4, 4, 2), np.uint8)],
)
def test_rejects_what_png_readers_cannot_load(tmp_path, array):
    with pytest.raises(ValueError, match="PNG needs"):
        write_png(tmp_path / "a.png", array)
