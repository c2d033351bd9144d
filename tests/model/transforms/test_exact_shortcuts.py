"""The sketch and painting readers' shortcuts give the per-pixel definitions' answers exactly.

An 8-bit sketch's line mask is found from its 256 codes' counts, and a painting's colours are
matched as packed 32-bit words; both must equal what reading every pixel as a float (or as three
widened channels) gives, or training data and search would drift from what bundles were made on.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from anyseek.model.transforms.base import UserInputError
from anyseek.model.transforms.edges import SketchTransform, line_mask
from anyseek.scenes.human import draw_human_queries
from anyseek.scenes.sample import generate_scene
from anyseek.workbench.drawing_transforms import declared_readers
from anyseek.workbench.styles import style


def _greys(rng: np.random.Generator) -> list[np.ndarray]:
    """8-bit drawings of every kind the readers meet: the drawing model's, noisy, anti-aliased,
    inverted, with a median that falls between two codes, odd and even pixel counts."""
    images = []
    for seed in range(12):
        scene = generate_scene(seed, 64)
        name = ("default", "rough", "scrawl", "random_wide")[seed % 4]
        images.append(draw_human_queries(seed, scene.objects, scene.instance, scene.semseg,
                                         style(name, seed)).sketch)  # fmt: skip
    for shape in ((65, 63), (64, 64), (31, 200)):
        images.append(rng.integers(0, 256, shape, dtype=np.uint8))
        blurred = np.full(shape, 255, np.uint8)
        blurred[shape[0] // 3 : shape[0] // 2] = rng.integers(0, 140, (1, shape[1]))
        images.append(blurred)
        images.append(255 - blurred)
    tie = np.full((2, 10), 127, np.uint8)
    tie[1] = 128  # the median is the mean of 127/255 and 128/255
    images.append(tie)
    return images


@pytest.mark.parametrize("polarity", ["auto", "dark_lines", "light_lines"])
def test_eight_bit_line_mask_equals_the_float_reading(polarity):
    for codes in _greys(np.random.default_rng(0)):
        grey = codes.astype(np.float32) / 255.0
        try:
            expected = line_mask(grey, polarity)
        except UserInputError as error:
            with pytest.raises(UserInputError, match=str(error).split(":")[0]):
                line_mask(codes, polarity)
            continue
        np.testing.assert_array_equal(line_mask(codes, polarity), expected)


def test_single_tone_eight_bit_sketch_is_refused():
    with pytest.raises(UserInputError, match="single tone"):
        SketchTransform(size=64)(Image.new("L", (80, 80), 200))


def _ids_pixel_by_pixel(image: Image.Image, colours: np.ndarray) -> np.ndarray:
    """Each opaque pixel's palette index by its three widened channels; -1 off the palette."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.int64)
    ids = np.full(rgba.shape[:2], -1, np.int64)
    for i, (r, g, b) in enumerate(colours.tolist()):
        ids[(rgba[..., 0] == r) & (rgba[..., 1] == g) & (rgba[..., 2] == b)] = i
    ids[rgba[..., 3] == 0] = 0
    return ids


def test_painted_colours_are_matched_as_every_pixel_reads():
    reader = declared_readers(64).semseg
    colours = reader.palette.colors
    for seed in range(8):
        scene = generate_scene(seed, 64)
        painting = draw_human_queries(seed, scene.objects, scene.instance, scene.semseg).painting
        rgba = np.dstack([painting, np.full(painting.shape[:2], 255, np.uint8)])
        rgba[: 10 + seed, :7, 3] = 0  # a transparent corner is class 0, whatever its colour
        rgba[: 10 + seed, :7, :3] = (1, 2, 3)
        image = Image.fromarray(rgba)
        ids = reader._ids_from_colors(image)
        np.testing.assert_array_equal(ids, _ids_pixel_by_pixel(image, colours))
        assert len(np.unique(ids)) >= 3  # the background and at least two painted classes


def test_off_palette_colours_are_named_in_code_order():
    reader = declared_readers(64).semseg
    painting = np.zeros((8, 8, 3), np.uint8)
    painting[:] = reader.palette.colors[0]
    painting[0, 0] = (250, 1, 2)
    painting[1, 1] = (3, 200, 9)
    with pytest.raises(UserInputError, match=r"2 pixels .* e\.g\. \(3, 200, 9\), \(250, 1, 2\)"):
        reader(Image.fromarray(painting))
