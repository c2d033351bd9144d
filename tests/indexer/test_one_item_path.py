"""Issue 70: one item path. A photo is an item of one part, decoded, embedded and staged by the
same functions as every other item, with the vectors the gallery pass gave it before."""

from __future__ import annotations

from pathlib import Path

from item_path_check import check_photos_take_the_gallery_pass
from PIL import Image

from anyseek.indexer.decode import decode_item, decode_limits
from anyseek.indexer.errors import ItemError
from anyseek.indexer.fetch import fetch
from anyseek.indexer.sources import SourceRef
from anyseek.scenes import generate_scene
from anyseek.settings import IndexerSettings


def test_a_photo_keeps_the_built_in_models_gallery_vectors(search_model, tmp_path: Path) -> None:
    """The built-in model: a photo's row through decode_item and embed_items is the one
    ``embed_images`` gives its decoded pixels (what every photo indexed before got)."""
    check_photos_take_the_gallery_pass(search_model, tmp_path)


def test_a_damaged_photo_fails_in_its_own_words(search_model, tmp_path: Path) -> None:
    """A photo file alone is named by itself in its failure, as ever; the same file as a
    record's part is named by its modality."""
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture at all")
    limits = decode_limits(10**8, 128, search_model.image_input)
    said = []
    for ref in (
        SourceRef(str(bad), bad.name),
        SourceRef(str(bad), bad.name, parts=(("rgb", str(bad)),)),
    ):
        try:
            decode_item(fetch(ref, IndexerSettings()), limits, search_model)
        except ItemError as error:
            said.append(str(error))
    assert said == ["not an image (unknown format)", "rgb: not an image (unknown format)"]


def test_a_decoded_photo_lets_go_of_its_bytes(search_model, tmp_path: Path) -> None:
    """Decoding keeps the photo's model input and thumbnail, not its file's bytes."""
    path = tmp_path / "photo.jpg"
    Image.fromarray(generate_scene(70_010, 64).rgb).resize((256, 192)).save(path)
    limits = decode_limits(10**8, 128, search_model.image_input)
    decoded = decode_item(
        fetch(SourceRef(str(path), path.name), IndexerSettings()), limits, search_model
    )
    assert decoded.fetched.data == b"" and decoded.fetched.parts[0].value == b""
    assert decoded.fetched.size == path.stat().st_size
    assert set(decoded.inputs) == {"image"} and decoded.rgb is decoded.inputs["image"]
    assert decoded.thumbnail[:2] == b"\xff\xd8" and decoded.format == "jpeg"
