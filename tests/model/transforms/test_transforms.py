"""Input transforms: user files to the exact tensors the 4M tokenizers and patch inputs expect."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from anyseek.errors import AnyseekError
from anyseek.model import load_vq_tokenizer
from anyseek.model.transforms import (
    TRANSFORMS,
    DepthTransform,
    EdgesTransform,
    InputWarning,
    NormalTransform,
    RGBTransform,
    SemsegTransform,
    SketchTransform,
    UserInputError,
    class_id,
    colorize,
    semseg_classes,
    transform_for,
)
from anyseek.model.transforms.depth import truncated_standardize


def png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG bytes, as an upload would arrive."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- registry -------------------------------------------------------------------------------------
def test_registry_has_one_transform_per_user_input_kind():
    assert set(TRANSFORMS) == {"rgb", "depth", "semseg", "edges", "sketch", "normal", "caption"}


@pytest.mark.parametrize(
    ("kind", "source", "shape", "dtype"),
    [
        ("rgb", Image.new("RGB", (90, 70), (10, 200, 30)), (3, 64, 64), torch.float32),
        (
            "depth",
            np.linspace(1, 5, 80 * 60, dtype=np.float32).reshape(60, 80),
            (1, 64, 64),
            torch.float32,
        ),
        ("normal", Image.new("RGB", (64, 80), (128, 128, 255)), (3, 64, 64), torch.float32),
        ("semseg", np.full((70, 70), 17), (64, 64), torch.int64),
        ("sketch", np.pad(np.zeros((20, 20)), 30, constant_values=1.0), (1, 64, 64), torch.float32),
        ("edges", np.pad(np.ones((20, 20)), 30, constant_values=0.0), (1, 64, 64), torch.float32),
    ],
)
def test_pixel_patch_inputs_at_other_resolutions(kind, source, shape, dtype):
    out = transform_for(kind, 64)(source)
    assert out.shape == shape and out.dtype == dtype
    assert TRANSFORMS[kind].size == 224  # the registry itself is untouched


def test_unknown_kind_and_bad_sizes_are_refused():
    with pytest.raises(UserInputError, match="unknown input kind 'video'"):
        transform_for("video")
    with pytest.raises(UserInputError, match="output size"):
        RGBTransform(size=0)
    with pytest.raises(UserInputError, match="output size"):
        transform_for("depth", 100_000)


# --- rgb ------------------------------------------------------------------------------------------
def test_rgb_matches_the_fm_input_exactly(inputs):
    for b in range(2):
        image = Image.fromarray(inputs["rgb.uint8"][b].permute(1, 2, 0).numpy())
        out = TRANSFORMS["rgb"](png_bytes(image))
        assert torch.equal(out, inputs["fm_input.rgb@224.tensor"][b])


def test_rgb_centre_crops_non_square_images():
    image = Image.new("RGB", (300, 100), (255, 0, 0))
    image.paste((0, 0, 255), (100, 0, 200, 100))  # blue centre square, red sides
    out = RGBTransform(size=32)(image)
    blue = (torch.tensor([0.0, 0.0, 1.0]) - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor(
        [0.229, 0.224, 0.225]
    )
    torch.testing.assert_close(out.mean(dim=(1, 2)), blue, atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (40, 30), 128),
        Image.new("LA", (40, 30), (128, 0)),
        Image.new("RGBA", (40, 30), (0, 0, 0, 0)),
        Image.new("P", (40, 30), 3),
        Image.new("CMYK", (40, 30), (0, 0, 0, 0)),
        Image.new("I;16", (40, 30), 60000),
        Image.new("1", (40, 30), 1),
    ],
    ids=lambda im: im.mode,
)
def test_rgb_accepts_any_mode(image):
    out = RGBTransform(size=16)(image)
    assert out.shape == (3, 16, 16) and torch.isfinite(out).all()


def test_rgb_symmetric_normalisation_for_the_rgb_tokenizer():
    image = Image.new("RGB", (4, 4), (0, 255, 51))
    out = RGBTransform(size=4, normalization="symmetric")(image)
    torch.testing.assert_close(out[:, 0, 0], torch.tensor([-1.0, 1.0, -0.6]))
    with pytest.raises(UserInputError, match="unknown normalization"):
        RGBTransform(normalization="zscore")


def test_rgb_transparency_is_white_and_16_bit_is_rescaled():
    white = (1.0 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    out = RGBTransform(size=8)(Image.new("RGBA", (8, 8), (0, 0, 0, 0)))
    torch.testing.assert_close(out[:, 0, 0], white)
    bright = RGBTransform(size=8)(Image.new("I;16", (8, 8), 65535))
    torch.testing.assert_close(bright[:, 0, 0], white)


def test_unreadable_missing_damaged_empty_and_huge_images(tmp_path):
    rgb = TRANSFORMS["rgb"]
    with pytest.raises(UserInputError, match="not found"):
        rgb(tmp_path / "missing.png")
    with pytest.raises(UserInputError, match="not a readable image"):
        rgb(b"this is not an image")
    truncated = png_bytes(Image.effect_noise((64, 64), 50).convert("RGB"))[:300]
    with pytest.raises(UserInputError, match="damaged or incomplete"):
        rgb(truncated)
    with pytest.raises(UserInputError, match=r"empty \(0x10 pixels\)"):
        rgb(Image.new("RGB", (0, 10)))
    with pytest.raises(UserInputError, match="at most 40 MP"):
        rgb(Image.new("1", (10_000, 6_000)))
    with pytest.raises(UserInputError, match="expected an image file"):
        rgb(12345)


# --- depth ----------------------------------------------------------------------------------------
# The reference reduces in float32, whose rounding depends on the CPU's vector width, so its
# output can differ from machine to machine by a few ulp; ours reduces in float64 (see depth.py).
FLOAT32_REDUCTION = {"atol": 1e-5, "rtol": 0}


def test_depth_standardisation_matches_the_fixture(inputs, tmp_path):
    for b in range(2):
        raw = inputs["depth.raw"][b, 0].numpy()
        expected = inputs["depth.standardized"][b]
        torch.testing.assert_close(TRANSFORMS["depth"](raw), expected, **FLOAT32_REDUCTION)
        np.save(tmp_path / "d.npy", raw)
        assert torch.equal(TRANSFORMS["depth"](tmp_path / "d.npy"), TRANSFORMS["depth"](raw))


def test_depth_from_a_16_bit_png_and_npz(inputs, tmp_path):
    raw = inputs["depth.raw"][0, 0].numpy()
    millimetres = np.round(raw * 1000).astype(np.uint16)
    Image.fromarray(millimetres).save(tmp_path / "depth.png")
    assert Image.open(tmp_path / "depth.png").mode.startswith("I")
    from_png = TRANSFORMS["depth"](tmp_path / "depth.png")
    expected = truncated_standardize(torch.from_numpy(millimetres / 65535.0).float()[None])
    torch.testing.assert_close(from_png, expected, atol=1e-5, rtol=0)
    # Standardisation removes the unit: millimetres in a PNG ~ metres in a float file.
    torch.testing.assert_close(from_png, inputs["depth.standardized"][0], atol=1e-2, rtol=0)
    np.savez(tmp_path / "d.npz", depth=raw, confidence=np.ones_like(raw))
    assert torch.equal(TRANSFORMS["depth"](tmp_path / "d.npz"), TRANSFORMS["depth"](raw))
    np.savez(tmp_path / "two.npz", a=raw, b=raw)
    with pytest.raises(UserInputError, match="name the depth array 'depth'"):
        TRANSFORMS["depth"](tmp_path / "two.npz")


def test_depth_invalid_pixels_take_no_part_and_become_zero():
    rng = np.random.default_rng(0)
    depth = rng.uniform(1.0, 10.0, (32, 32)).astype(np.float32)
    holes = rng.random((32, 32)) < 0.2
    depth_with_holes = np.where(holes, 0.0, depth).astype(np.float32)
    depth_with_holes[0, 0] = np.nan
    holes[0, 0] = True
    out = DepthTransform(size=32)(depth_with_holes)[0]
    assert torch.all(out[torch.from_numpy(holes)] == 0)
    valid = torch.from_numpy(~holes)
    expected = truncated_standardize(torch.from_numpy(depth), valid)
    torch.testing.assert_close(out, expected)


def test_depth_8_bit_grey_inverse_and_resize():
    ramp = np.tile(np.arange(1, 201, dtype=np.uint8), (100, 1))  # 100 x 200
    out = DepthTransform(size=50)(Image.fromarray(ramp))
    assert out.shape == (1, 50, 50)
    assert torch.all(out[0, :, 1:] >= out[0, :, :-1])  # farther to the right
    inverse = DepthTransform(size=50, inverse=True)(Image.fromarray(ramp))
    assert torch.all(inverse[0, :, 1:] <= inverse[0, :, :-1])  # disparity: brighter = nearer


def test_zero_disparity_is_far_not_missing():
    disparity = np.tile(np.arange(0, 64, dtype=np.float32), (64, 1))  # column 0: sky
    out = DepthTransform(size=64, inverse=True)(disparity)[0]
    assert torch.all(out[:, 0] == out[:, 1]) and torch.all(out[:, 0] > out[:, 2])


def test_depth_equal_channel_rgb_is_converted_with_a_warning():
    grey = np.tile(np.arange(10, 74, dtype=np.uint8), (64, 1))
    rgb = Image.fromarray(np.stack([grey] * 3, axis=-1))
    with pytest.warns(InputWarning, match="3-channel image with equal channels"):
        out = DepthTransform(size=64)(rgb)
    torch.testing.assert_close(out, DepthTransform(size=64)(Image.fromarray(grey)))


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (Image.new("RGB", (32, 32), (255, 0, 0)), "colour image"),
        (np.zeros((16, 16), np.float32), "no valid pixel"),
        (np.full((16, 16), np.inf, np.float32), "no valid pixel"),
        (np.ones((3, 16, 16), np.float32), r"single-channel \[H, W\]"),
        (np.ones((0, 16), np.float32), "empty"),
        (np.array([["a"]]), "expected numbers"),
        (Image.new("1", (8, 8)), "unsupported image mode '1'"),
    ],
)
def test_depth_bad_inputs(source, match):
    with pytest.raises(UserInputError, match=match):
        TRANSFORMS["depth"](source)


def test_depth_with_too_few_valid_pixels():
    depth = np.zeros((16, 16), np.float32)
    depth[3, 3] = 2.0
    with pytest.raises(UserInputError, match="too few valid pixels"):
        DepthTransform(size=16)(depth)


# --- semantic segmentation ------------------------------------------------------------------------
def test_palette_has_134_distinct_colours_and_named_classes():
    classes = semseg_classes()
    assert [c.id for c in classes] == list(range(134))
    assert len({c.color for c in classes}) == 134
    assert classes[0].name == "no class" and classes[0].color == (0, 0, 0)
    assert (class_id("person"), class_id("dog"), class_id("rug-merged")) == (1, 17, 133)
    with pytest.raises(UserInputError, match="unknown COCO class"):
        class_id("unicorn")


def test_painted_segmentation_round_trips_to_the_class_map(inputs):
    class_map = inputs["semseg.class_map"][0]
    painted = png_bytes(colorize(class_map))
    assert torch.equal(TRANSFORMS["semseg"](painted), class_map)


def test_indexed_png_of_coco_ids_is_shifted_like_the_official_pipeline(inputs):
    class_map = inputs["semseg.class_map"][1]
    coco = np.where(class_map.numpy() == 0, 255, class_map.numpy() - 1).astype(np.uint8)
    indexed = Image.fromarray(coco, mode="L").convert("P")  # palette indices = class ids
    indexed.putpalette([v for i in range(256) for v in (255 - i, i, 0)])  # colours are irrelevant
    assert torch.equal(TRANSFORMS["semseg"](png_bytes(indexed)), class_map)
    model_ids = SemsegTransform(ids="model")(class_map.numpy().astype(np.uint8))
    assert torch.equal(model_ids, class_map)


def test_painted_segmentation_saved_as_indexed_png_is_read_by_colour(inputs):
    class_map = inputs["semseg.class_map"][0]
    painted = colorize(class_map)
    indexed = painted.quantize(
        colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    assert indexed.mode == "P" and np.asarray(indexed).max() < 134  # indices look like ids too
    assert torch.equal(TRANSFORMS["semseg"](png_bytes(indexed)), class_map)


def test_semseg_tokens_from_a_painted_png_equal_the_official_tokens(
    fourm_fixtures, inputs, expected
):
    tok = load_vq_tokenizer(fourm_fixtures / "tokenizer_semseg" / "hub", modality="tok_semseg@224")
    maps = [TRANSFORMS["semseg"](png_bytes(colorize(m))) for m in inputs["semseg.class_map"]]
    assert torch.equal(tok.encode(torch.stack(maps)), expected["semseg.tokens"].flatten(1))


def test_semseg_resizes_with_nearest_and_crops_the_centre():
    left, right = np.full((40, 40), 16), np.full((40, 40), 17)  # coco ids: cat, dog
    wide = np.concatenate([left, left, right, right], axis=1)  # 40 x 160 -> centre 40 x 40
    out = SemsegTransform(size=8)(wide)
    assert set(out.unique().tolist()) == {17, 18}
    assert torch.all(out[:, :4] == 17) and torch.all(out[:, 4:] == 18)


def test_painted_segmentation_on_a_wide_page_is_stretched_whole():
    from anyseek.model.bundle.definition import builtin_palette
    from anyseek.model.transforms.palette_semseg import PaletteSemsegTransform

    palette = builtin_palette()
    page = np.zeros((40, 120, 3), np.uint8) + np.uint8(palette.classes[0].color)
    page[:, :20] = palette.classes[2].color  # a thing painted at the left edge
    stretched = PaletteSemsegTransform(palette, size=30, fit="stretch")(Image.fromarray(page))
    assert set(stretched[:, :5].unique().tolist()) == {2}
    assert set(stretched[:, 5:].unique().tolist()) == {0}
    cropped = PaletteSemsegTransform(palette, size=30)(Image.fromarray(page))
    assert set(cropped.unique().tolist()) == {0}  # the centre square holds none of it
    with pytest.raises(UserInputError, match="unknown fit"):
        PaletteSemsegTransform(palette, fit="tile")


def test_semseg_transparent_pixels_are_no_class_and_tolerance_matches_near_colours():
    dog = semseg_classes()[class_id("dog")].color
    image = Image.new("RGBA", (8, 8), (*dog, 255))
    image.paste((1, 2, 3, 0), (0, 0, 4, 8))
    out = SemsegTransform(size=8)(image)
    assert out[:, :4].eq(0).all() and out[:, 4:].eq(class_id("dog")).all()
    near = Image.new("RGB", (8, 8), tuple(c + 2 if c < 250 else c - 2 for c in dog))
    with pytest.raises(UserInputError, match="not in the class palette"):
        SemsegTransform(size=8)(near)
    assert SemsegTransform(size=8, color_tolerance=3)(near).eq(class_id("dog")).all()


def test_semseg_unknown_colours_and_ids_are_named():
    image = Image.new("RGB", (10, 10), (0, 0, 0))
    image.paste((1, 2, 3), (0, 0, 5, 10))
    with pytest.raises(UserInputError, match=r"50 pixels in 1 colours .*RGB\(1, 2, 3\) \(50 px\)"):
        TRANSFORMS["semseg"](image)
    ids = np.array([[0, 150], [200, 255]], dtype=np.uint8)
    with pytest.raises(UserInputError, match="unknown class ids 150, 200"):
        TRANSFORMS["semseg"](Image.fromarray(ids, mode="L"))
    with pytest.raises(UserInputError, match="unknown class ids 134"):
        SemsegTransform(ids="model")(np.full((4, 4), 134))
    with pytest.raises(UserInputError, match="integer class ids"):
        TRANSFORMS["semseg"](np.zeros((4, 4), np.float32))
    with pytest.raises(UserInputError, match="indexed or greyscale"):
        SemsegTransform(input="ids")(Image.new("RGB", (4, 4)))


# --- sketches and edges ---------------------------------------------------------------------------
def drawing(size: int = 400, width: int = 9, ink: int = 0, paper: int = 255) -> Image.Image:
    """A square outline and a diagonal, drawn with a thick pen."""
    image = Image.new("L", (size, size), paper)
    pen = ImageDraw.Draw(image)
    pen.rectangle((size // 5, size // 5, 4 * size // 5, 4 * size // 5), outline=ink, width=width)
    pen.line((size // 5, size // 5, 4 * size // 5, 4 * size // 5), fill=ink, width=width)
    return image


def test_sketch_is_binary_thin_and_polarity_free():
    out = TRANSFORMS["sketch"](drawing())
    assert out.shape == (1, 224, 224) and set(out.unique().tolist()) == {-1.0, 1.0}
    edges = out[0] > 0
    # Square outline (4 x ~134 px) plus diagonal (~134 px) as 1-pixel lines at 224x224.
    assert 550 < int(edges.sum()) < 800
    blocks = edges[:-1, :-1] & edges[1:, :-1] & edges[:-1, 1:] & edges[1:, 1:]
    assert int(blocks.sum()) <= 2  # 2x2 ink only where the diagonal meets the corners
    inverted = TRANSFORMS["sketch"](drawing(ink=255, paper=0))
    assert torch.equal(inverted, out)


def test_line_width_thickens_and_edge_maps_keep_their_lines():
    thin = TRANSFORMS["sketch"](drawing())[0] > 0
    thick = SketchTransform(line_width=3)(drawing())[0] > 0
    assert thick.sum() > 2.5 * thin.sum() and (thick | ~thin).all()  # thin lines stay inside
    kept = EdgesTransform(size=400)(drawing(ink=255, paper=0))[0] > 0
    assert torch.equal(kept, torch.from_numpy(np.asarray(drawing(ink=255, paper=0)) > 127))


def test_sketch_lines_survive_large_downscaling_and_grey_antialiased_strokes():
    image = Image.new("L", (2000, 2000), 255)
    ImageDraw.Draw(image).line((0, 1000, 1999, 1000), fill=140, width=1)  # faint 1-px line
    out = TRANSFORMS["sketch"](image)[0] > 0
    assert out.any(dim=1).sum() == 1 and out.sum() >= 220


def test_strokes_on_a_transparent_canvas():
    canvas = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line((10, 50, 90, 50), fill=(255, 255, 255, 255), width=4)
    out = SketchTransform(size=100)(png_bytes(canvas))[0] > 0
    assert out[45:56].any() and not out[:40].any()


def test_dark_and_light_polarity_can_be_forced():
    image = drawing(size=100, width=3)
    forced = EdgesTransform(size=100, polarity="light_lines")(image)[0] > 0
    auto = EdgesTransform(size=100)(image)[0] > 0
    assert torch.equal(forced, ~auto)  # the paper was taken for ink


@pytest.mark.parametrize(
    "source",
    [Image.new("L", (64, 64), 255), Image.new("RGB", (64, 64), (0, 0, 0)), np.full((8, 8), 0.5)],
)
def test_empty_sketch_is_refused(source):
    with pytest.raises(UserInputError, match="sketch is empty"):
        TRANSFORMS["sketch"](source)


def scene_drawing(width: int, height: int, left: int, top: int, scale: float) -> Image.Image:
    """A cube, a ball and a cone drawn with a pen of ``scale`` on a ``width x height`` page, the
    drawing's top left corner at (``left``, ``top``)."""
    page = Image.new("L", (width, height), 255)
    pen = ImageDraw.Draw(page)

    def at(*xy: float) -> tuple[int, ...]:
        return tuple(round(v * scale) + (left if i % 2 == 0 else top) for i, v in enumerate(xy))

    pen.rectangle(at(0, 20, 50, 70), outline=0, width=round(3 * scale))
    pen.ellipse(at(70, 0, 130, 60), outline=0, width=round(3 * scale))
    pen.polygon([at(40, 110), at(70, 80), at(100, 110)], outline=0, width=round(3 * scale))
    return page


def near(a: torch.Tensor, b: torch.Tensor) -> float:
    """Share of ``a``'s line pixels within one pixel of a line of ``b``."""
    grown = torch.nn.functional.max_pool2d(b[None, None].float(), 3, 1, 1)[0, 0] > 0
    return float((a & grown).sum() / a.sum())


def test_a_content_box_reads_a_drawing_alike_wherever_and_however_large_it_is_on_the_page():
    boxed = SketchTransform(size=64, content_box=True, box_margin=0.06)
    stretched = SketchTransform(size=64, fit="stretch")
    centred = scene_drawing(160, 160, 15, 25, 1.0)  # the drawing in the middle of a square page
    moved = scene_drawing(520, 180, 330, 12, 1.0)  # the same at the right of a wide page
    larger = scene_drawing(300, 700, 20, 400, 2.0)  # twice as large, low on a tall page
    reference = boxed(centred)[0] > 0
    assert torch.equal(boxed(moved)[0] > 0, reference)  # only the page differs: the same
    scaled = boxed(larger)[0] > 0
    assert min(near(scaled, reference), near(reference, scaled)) > 0.9
    page = stretched(centred)[0] > 0
    for other in (moved, larger):  # read as a page, the same drawing is elsewhere
        assert near(stretched(other)[0] > 0, page) < 0.5
    rows = reference.any(1).nonzero().flatten()
    cols = reference.any(0).nonzero().flatten()
    assert int(cols[0]) in (3, 4) and int(cols[-1]) in (59, 60)  # the longer side, 6 % margins
    assert abs(int(rows[0]) - (63 - int(rows[-1]))) <= 1  # the shorter side centred


def test_a_content_box_keeps_every_line_and_refuses_bad_settings():
    line = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(line).line((20, 50, 180, 50), fill=0, width=3)
    out = SketchTransform(size=64, content_box=True, box_margin=0.0)(line)[0] > 0
    assert out.any(0).all() and out.any(1).sum() == 1  # the stroke spans the page's width
    assert torch.equal(
        SketchTransform(size=64, content_box=True)(np.asarray(line)),
        SketchTransform(size=64, content_box=True)(line),
    )
    with pytest.raises(UserInputError, match="box_margin"):
        SketchTransform(content_box=True, box_margin=2)
    with pytest.raises(UserInputError, match="content_box"):
        SketchTransform(content_box="yes")
    with pytest.raises(UserInputError, match="sketch is empty"):
        SketchTransform(content_box=True)(Image.new("L", (64, 32), 255))


def test_bad_sketch_options():
    with pytest.raises(UserInputError, match="line_width"):
        SketchTransform(line_width=0)
    with pytest.raises(UserInputError, match="polarity"):
        SketchTransform(polarity="sideways")
    with pytest.raises(UserInputError, match=r"fit 'squash'.*crop, stretch"):
        SketchTransform(fit="squash")


def test_a_drawing_on_a_tall_page_is_stretched_whole_or_cropped_to_its_centre():
    page = Image.new("L", (60, 120), 255)  # a tall page: a box near the top, a line at the bottom
    pen = ImageDraw.Draw(page)
    pen.rectangle((10, 5, 50, 25), outline=0, width=2)
    pen.line((5, 110, 55, 110), fill=0, width=2)
    cropped = SketchTransform(size=60)(page)[0] > 0
    stretched = SketchTransform(size=60, fit="stretch")(page)[0] > 0
    assert not cropped.any()  # both drawn things lie outside the centre square
    rows = stretched.any(dim=1).nonzero()[:, 0]
    assert rows.min() <= 4 and rows.max() >= 53  # the box on top and the line at the bottom
    box_cols = stretched[:12].any(dim=0).nonzero()[:, 0]
    assert 8 <= box_cols.min() <= 12 and 48 <= box_cols.max() <= 52  # widths are unchanged
    wide = SketchTransform(size=60, fit="stretch")(page.transpose(Image.Transpose.TRANSPOSE))
    assert torch.equal(wide[0] > 0, stretched.T)  # a page larger on one axis only


# --- normals, captions ----------------------------------------------------------------------------
def test_normals_rgb_encoding_and_arrays():
    out = NormalTransform(size=4)(Image.new("RGB", (4, 4), (128, 0, 255)))
    torch.testing.assert_close(out[:, 0, 0], torch.tensor([128 / 255 * 2 - 1, -1.0, 1.0]))
    decoded = np.zeros((6, 6, 3), np.float32)
    decoded[..., 2] = 1.0
    from_array = NormalTransform(size=6)(decoded)
    assert torch.equal(from_array[2], torch.ones(6, 6)) and torch.equal(
        from_array[0], torch.zeros(6, 6)
    )
    with pytest.raises(UserInputError, match="must be RGB images"):
        NormalTransform()(Image.new("L", (4, 4)))
    with pytest.raises(UserInputError, match=r"in \[-1, 1\]"):
        NormalTransform()(np.full((3, 4, 4), 255.0, np.float32))


def test_caption_transform_gives_ids_and_eos(fourm_fixtures):
    out = TRANSFORMS["caption"]("Two dogs playing in the snow!")
    assert out.tolist() == [5047, 5435, 5335, 4921, 4912, 5401, 4284, 3]
    with pytest.raises(AnyseekError, match="empty"):
        TRANSFORMS["caption"]("  ")
    with pytest.raises(UserInputError, match="must be text"):
        TRANSFORMS["caption"](None)


# --- end to end: a user's depth file to the official tokens ---------------------------------------
def test_depth_file_to_official_tokens(fourm_fixtures, inputs, expected, tmp_path):
    tok = load_vq_tokenizer(
        fourm_fixtures / "tokenizer_depth_divae" / "model.safetensors", modality="tok_depth@224"
    )
    for b in range(2):
        np.save(tmp_path / f"{b}.npy", inputs["depth.raw"][b, 0].numpy())
    batch = torch.stack([TRANSFORMS["depth"](tmp_path / f"{b}.npy") for b in range(2)])
    assert torch.equal(tok.encode(batch), expected["depth.tokens"].flatten(1))
