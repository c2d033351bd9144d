"""A phone's photo is decoded once, no larger than the model input and the thumbnail need
(issue 68): a JPEG through its DCT scaling, a HEIC through an embedded thumbnail that covers
them; its size and orientation are the file's own, and a 100-megapixel picture takes little
memory."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from anyseek.indexer.decode import DecodeLimits, decode_item, decode_limits, open_picture
from anyseek.indexer.fetch import Fetched, FetchedPart
from anyseek.indexer.sources import SourceRef

PHONE = (4032, 3024)  # a 12-megapixel phone photo, landscape as stored


def photo(
    size: tuple[int, int] = PHONE, orientation: int | None = None, fmt: str = "JPEG"
) -> bytes:
    """A photo-like picture (a gradient under noise, so it compresses like a photo)."""
    width, height = size
    small = np.random.default_rng(0).integers(0, 255, (height // 16, width // 16, 3), np.uint8)
    image = Image.fromarray(small).resize(size, Image.Resampling.BILINEAR)
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    out = io.BytesIO()
    extra = {"thumbnails": [320]} if fmt == "HEIF" else {}
    image.save(out, format=fmt, quality=90, exif=exif.tobytes(), **extra)
    return out.getvalue()


def fetched(data: bytes, name: str = "phone.jpg") -> Fetched:
    """The fetched form of a photo file's bytes (an item of one part, ``rgb``), as the pipeline
    hands it to decoding."""
    ref, sha256 = SourceRef(name, name), hashlib.sha256(data).hexdigest()
    parts = (FetchedPart("rgb", data, sha256),)
    return Fetched(ref=ref, data=data, sha256=sha256, mtime=0, parts=parts)


class Seen:
    """A gallery transform that records the size of every picture it is given, and a model
    whose only query modality, the photo, it reads."""

    name = "seen"

    def __init__(self, side: int = 64) -> None:
        """``side``: the square it makes, as a model's input."""
        from anyseek.model.service import QueryModality

        self.side, self.sizes = side, []
        self.query_modalities = {"image": QueryModality("image", f"rgb@{side}", self)}

    def __call__(self, image: Image.Image):
        """Record the picture's size; a model-shaped zero input."""
        import torch

        if image.size != (8, 8):  # the probe of decode_limits
            self.sizes.append(image.size)
        return torch.zeros(3, self.side, self.side)


def test_a_phone_jpeg_is_decoded_at_the_smallest_scale_covering_model_and_thumbnail() -> None:
    """4032x3024 for a 64-pixel model and a 256-pixel thumbnail: read at 1/8 (504x378), the
    model given that, the thumbnail 256 pixels long, the size recorded the file's own."""
    seen = Seen(64)
    limits = decode_limits(40_000_000, 256, seen)
    decoded = decode_item(fetched(photo()), limits, seen)
    assert seen.sizes == [(504, 378)]
    assert (decoded.width, decoded.height) == PHONE
    assert max(Image.open(io.BytesIO(decoded.thumbnail)).size) == 256


def test_a_larger_model_input_keeps_a_larger_scale() -> None:
    """A 448-pixel model input needs the shorter side at least 448: 1/4 of 3024 is 756, 1/8 is
    378, so the photo is read at 1/4."""
    seen = Seen(448)
    decode_item(fetched(photo()), decode_limits(40_000_000, 256, seen), seen)
    assert seen.sizes == [(1008, 756)]


def test_orientation_is_kept_and_the_size_is_upright() -> None:
    """EXIF orientation 6 (the phone held upright): the picture the model sees and the
    thumbnail are portrait, and the recorded size is the upright 3024x4032."""
    seen = Seen(64)
    decoded = decode_item(fetched(photo(orientation=6)), decode_limits(40_000_000, 256, seen), seen)
    assert seen.sizes == [(378, 504)]
    assert (decoded.width, decoded.height) == (3024, 4032)
    thumb = Image.open(io.BytesIO(decoded.thumbnail)).size
    assert thumb[1] == 256 and thumb[0] < thumb[1]


def test_unknown_model_side_decodes_every_pixel() -> None:
    """Limits without a model side (a caller that cannot say) read the photo whole, as before."""
    opened = open_picture(photo((800, 600)), DecodeLimits(40_000_000, 256))
    assert opened.image.size == (800, 600)


def test_heic_with_an_embedded_thumbnail_that_covers_is_read_from_it() -> None:
    """A HEIC whose 320x240 thumbnail covers a 64-pixel model and a 256-pixel thumbnail is read
    from that thumbnail; its recorded size is the full picture's."""
    pytest.importorskip("pillow_heif")
    seen = Seen(64)
    data = photo((1024, 768), fmt="HEIF")
    decoded = decode_item(fetched(data, "phone.heic"), decode_limits(40_000_000, 256, seen), seen)
    assert seen.sizes == [(320, 240)]
    assert (decoded.width, decoded.height, decoded.format) == (1024, 768, "heif")


def test_reduced_decode_gives_the_model_nearly_the_same_vectors(search_model) -> None:
    """The built-in model's vectors of a reduced decode are those of the full one to within
    resampling (cosine above 0.99 in every space)."""
    data = photo((2048, 1536))
    model = search_model
    full = decode_item(fetched(data), DecodeLimits(40_000_000, 256), model)
    reduced = decode_item(fetched(data), decode_limits(40_000_000, 256, model.image_input), model)
    vectors = [model.embed_images(d.inputs["image"][None]) for d in (full, reduced)]
    for space, vector in vectors[0].items():
        assert float(vector[0] @ vectors[1][space][0]) > 0.99, space


def test_a_png_above_the_pixel_limit_is_still_refused() -> None:
    """A format that cannot reduce is held to the limit on its full size."""
    from anyseek.indexer.errors import ItemError

    data = photo((400, 300), fmt="PNG")
    with pytest.raises(ItemError, match="above the limit"):
        open_picture(data, DecodeLimits(100_000, 256, 64))


def test_a_100_megapixel_jpeg_decodes_in_little_memory(tmp_path: Path) -> None:
    """A 100-megapixel JPEG (300 MB as pixels) is indexed from its 1/8 scale: the process's peak
    memory grows by far less than its pixels."""
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (11_000, 9_100), (90, 140, 200)).save(path, quality=80)
    script = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path.cwd())!r})
        from anyseek.indexer.decode import DecodeLimits, open_picture
        data = Path({str(path)!r}).read_bytes()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        opened = open_picture(data, DecodeLimits(40_000_000, 256, 224))
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(opened.image.size, opened.width, opened.height, grown // 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[:4] == ["(1375,", "1138)", "11000", "9100"]
    assert int(out[4]) < 60, f"peak memory grew by {out[4]} MB"


def test_a_records_photo_is_decoded_once_reduced(search_model, monkeypatch) -> None:
    """A record's photo part is decoded once, reduced, for both its model input and its
    picture; the item's size is the file's."""
    from anyseek.indexer import decode as decoding

    sizes = []
    real = decoding.open_picture

    def counted(data, limits):
        opened = real(data, limits)
        sizes.append(opened.image.size)
        return opened

    monkeypatch.setattr(decoding, "open_picture", counted)
    data = photo()
    part = FetchedPart("rgb", data, hashlib.sha256(data).hexdigest())
    item = Fetched(
        SourceRef("r1", "r1", parts=(("rgb", "r1.jpg"),)), data, part.sha256, 0, parts=(part,)
    )
    limits = decode_limits(40_000_000, 256, search_model.image_input)
    decoded = decode_item(item, limits, search_model)
    assert sizes == [(504, 378)]
    assert (decoded.width, decoded.height) == PHONE
    assert decoded.inputs["image"].shape[-1] == 64
