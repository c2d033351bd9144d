"""The open_clip family against open_clip itself: every source form gives the vectors open_clip's
own ``encode_image`` / ``encode_text`` give on the same inputs (float32, within 1e-5), offline;
queries by caption, image and sketch; missing weights and bad sources named in one message."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_clip import ARCH, TINY, need_open_clip, save_model

open_clip = need_open_clip()

from anyseek.model.families.interface import ModelError, QueryRequest  # noqa: E402
from anyseek.model.families.open_clip import OpenClipSearchModel, load_open_clip_search_model  # noqa: E402
from anyseek.model.families.registry import load_search_model  # noqa: E402

pytestmark = pytest.mark.clip
TOLERANCE = 1e-5
CAPTIONS = ("a red car on a street", "two dogs in the snow", "ein Haus am See")


def _photos() -> list[Image.Image]:
    """Three different 'photos': a gradient, noise, and a flat colour, none square."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 80, dtype=np.float32)
    gradient = np.stack(
        [np.tile(ramp, (60, 1)), np.tile(ramp[::-1], (60, 1)), np.full((60, 80), 90)], -1
    )
    noise = rng.integers(0, 256, (50, 70, 3))
    flat = np.full((45, 30, 3), (200, 40, 120))
    return [Image.fromarray(a.astype(np.uint8)) for a in (gradient, noise, flat)]


def _reference(name: str, pretrained: str | None = None):
    """open_clip's own model, preprocessing and tokenizer for the same source."""
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained)
    tokenizer = open_clip.get_tokenizer(name)
    return model.eval(), preprocess, tokenizer


def _unit(x: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(x.detach().float(), dim=-1).numpy()


def _assert_same_as_open_clip(ours: OpenClipSearchModel, reference) -> None:
    """Gallery batch, image queries and caption queries equal open_clip's own vectors."""
    model, preprocess, tokenizer = reference
    photos = _photos()
    with torch.no_grad():
        want_images = _unit(model.encode_image(torch.stack([preprocess(p) for p in photos])))
        want_text = _unit(model.encode_text(tokenizer(list(CAPTIONS))))
    batch = torch.stack([ours.image_input(p) for p in photos])
    got_images = ours.embed_images(batch)["clip"]
    np.testing.assert_allclose(got_images, want_images, atol=TOLERANCE)
    requests = [
        QueryRequest({"image": ours.query_modalities["image"].transform(p)}) for p in photos
    ]
    requests += [
        QueryRequest({"caption": ours.query_modalities["caption"].transform(c)}) for c in CAPTIONS
    ]
    got = np.stack([r["clip"].vector for r in ours.embed_queries(requests)])
    np.testing.assert_allclose(got, np.concatenate([want_images, want_text]), atol=TOLERANCE)


def test_a_folder_is_served_as_open_clip_serves_it(tiny_folder: Path) -> None:
    found = load_search_model(str(tiny_folder))  # no prefix: the folder's config says the family
    assert isinstance(found, OpenClipSearchModel)
    assert [(s.name, s.dim) for s in found.spaces] == [("clip", 32)]
    assert list(found.query_modalities) == ["caption", "sketch", "image"]
    assert found.name == "tiny-clip" and len(found.version) == 16
    exact = load_open_clip_search_model(f"open_clip:{tiny_folder}", precision="float32")
    assert exact.version == found.version
    _assert_same_as_open_clip(exact, _reference(f"local-dir:{tiny_folder}"))


def test_a_checkpoint_file_beside_its_config_and_arch_with_a_file(tiny_folder, tiny_arch) -> None:
    weights = tiny_folder / "open_clip_model.safetensors"
    beside = load_open_clip_search_model(str(weights), precision="float32")
    _assert_same_as_open_clip(beside, _reference(f"local-dir:{tiny_folder}"))
    # ARCH/FILE: open_clip's registered config with the file; preprocessing is the arch's default
    by_arch = load_open_clip_search_model(f"open_clip:{ARCH}/{weights}", precision="float32")
    assert by_arch.name == f"{ARCH}/open_clip_model.safetensors"
    assert by_arch.version != beside.version  # other preprocessing: other vectors
    _assert_same_as_open_clip(by_arch, _reference(ARCH, str(weights)))


def _hub_cache(cache: Path, repo: str, folder: Path, card: str | None) -> Path:
    """``folder``'s files laid out as huggingface_hub caches a download of ``repo``."""
    root = cache / f"models--{repo.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("open_clip_config.json", "open_clip_model.safetensors"):
        shutil.copy(folder / name, snapshot / name)
    if card is not None:
        (snapshot / "README.md").write_text(card)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    return snapshot


def test_a_hub_id_loads_from_the_model_cache_without_the_network(
    tiny_folder: Path, tmp_path: Path, offline, capsys
) -> None:
    card = "---\nlicense: mit\ntags:\n- clip\n---\n# tiny\n"
    _hub_cache(tmp_path, "anyseek/tiny-clip", tiny_folder, card)
    found = load_open_clip_search_model(
        "open_clip:hf-hub:anyseek/tiny-clip", cache=tmp_path, precision="float32"
    )
    assert found.name == "hf-hub:anyseek/tiny-clip"
    assert "released under 'mit'" in capsys.readouterr().err  # the licence is printed
    _assert_same_as_open_clip(found, _reference(f"local-dir:{tiny_folder}"))


def test_the_data_directory_is_the_model_cache(tiny_folder, tmp_path, offline, monkeypatch):
    from anyseek.settings import load_settings

    monkeypatch.delenv("ANYSEEK_MODEL__CACHE", raising=False)
    settings = load_settings(
        data_dir=tmp_path, model={"source": "open_clip:hf-hub:anyseek/tiny-clip"}
    )
    assert settings.model.cache == str(tmp_path / "models")
    _hub_cache(tmp_path / "models", "anyseek/tiny-clip", tiny_folder, None)
    found = load_search_model(settings.model)
    assert isinstance(found, OpenClipSearchModel)


def test_missing_weights_name_what_to_fetch_and_from_where(tmp_path: Path, offline) -> None:
    with pytest.raises(ModelError) as hub:
        load_search_model_cached("open_clip:hf-hub:anyseek/absent", tmp_path)
    message = str(hub.value)
    assert "https://huggingface.co/anyseek/absent" in message
    assert "anyseek models pull open_clip:hf-hub:anyseek/absent" in message
    assert f"ANYSEEK_MODEL__CACHE={tmp_path}" in message and "HF_HUB_OFFLINE is set" in message
    with pytest.raises(ModelError) as tag:
        load_search_model_cached("open_clip:ViT-B-32/laion2b_s34b_b79k", tmp_path)
    assert "huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in str(tag.value)
    assert "anyseek models pull open_clip:ViT-B-32/laion2b_s34b_b79k" in str(tag.value)


def load_search_model_cached(source: str, cache: Path):
    return load_open_clip_search_model(source, cache=cache)


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("open_clip:ViT-B-32", "names no weights"),
        ("open_clip:ViT-B-32/no_such_tag", "laion2b_s34b_b79k"),
        ("open_clip:NoSuchNet/openai", "knows no architecture 'NoSuchNet'"),
        ("open_clip:hf-hub:not a repo", "not a Hugging Face repo id"),
        ("open_clip:", "name a model"),
    ],
)
def test_bad_sources_are_one_message(source: str, said: str, tmp_path: Path, offline) -> None:
    with pytest.raises(ModelError, match=said):
        load_open_clip_search_model(source, cache=tmp_path)


def test_a_folder_without_weights_or_with_other_weights_is_refused(tiny_folder, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(tiny_folder / "open_clip_config.json", empty)
    with pytest.raises(ModelError, match="no checkpoint"):
        load_search_model(str(empty))
    other = save_model(tmp_path / "wide", seed=1, config={**_tiny_wider()})
    shutil.copy(other / "open_clip_model.safetensors", empty)
    with pytest.raises(ModelError, match="open_clip cannot build"):
        load_search_model(str(empty))


def _tiny_wider() -> dict:
    return {**TINY, "embed_dim": 48}


def test_sketches_weights_and_refusals(tiny_folder: Path, tmp_path: Path) -> None:
    model = load_open_clip_search_model(str(tiny_folder), precision="float32")
    drawing = Image.new("RGB", (40, 40), "white")
    for x in range(5, 35):
        drawing.putpixel((x, 20), (0, 0, 0))
        drawing.putpixel((20, x), (0, 0, 0))
    inverted = Image.eval(drawing, lambda v: 255 - v)  # light lines on dark
    sketch = model.query_modalities["sketch"].transform
    image = model.query_modalities["image"].transform
    assert torch.equal(sketch(inverted), image(drawing))  # read dark on light, as an image
    drawing.save(tmp_path / "d.png")
    assert torch.equal(sketch(tmp_path / "d.png"), image(drawing))
    # a weighted query is the normalised weighted sum of its parts
    parts = {
        "image": image(_photos()[0]),
        "caption": model.query_modalities["caption"].transform("a dog"),
    }
    alone = {k: model.embed_query({k: v})["clip"].vector for k, v in parts.items()}
    got = model.embed_query(parts, {"image": 1.0, "caption": -0.5})["clip"].vector
    want = alone["image"] - 0.5 * alone["caption"]
    np.testing.assert_allclose(got, want / np.linalg.norm(want), atol=TOLERANCE)
    with pytest.raises(ModelError, match="caption, sketch, image"):
        model.embed_query({"depth": torch.zeros(1)})
    from anyseek.model.transforms.base import UserInputError

    with pytest.raises(UserInputError, match="caption is empty"):
        model.query_modalities["caption"].transform("  ")


def test_bf16_gallery_batches_as_the_precision_setting_says(tiny_folder: Path) -> None:
    from anyseek.model.runtime.precision import bf16_matmul_pays
    from anyseek.settings import ModelSettings

    default = load_search_model(str(tiny_folder))  # auto: where the timed matmul says it pays
    assert default.gallery_bf16 == bf16_matmul_pays()
    assert default.precision == ("bfloat16" if bf16_matmul_pays() else "float32")
    assert load_open_clip_search_model(str(tiny_folder), dtype="bfloat16").gallery_bf16
    exact = load_search_model(ModelSettings(source=str(tiny_folder), precision="float32"))
    fast = load_search_model(ModelSettings(source=str(tiny_folder), precision="bfloat16"))
    assert (exact.precision, exact.gallery_bf16) == ("float32", False)
    assert (fast.precision, fast.gallery_bf16) == ("bfloat16", True)  # whatever this CPU is
    batch = torch.stack([exact.image_input(p) for p in _photos()])
    a, b = exact.embed_images(batch)["clip"], fast.embed_images(batch)["clip"]
    assert not np.array_equal(a, b)  # bf16 did run
    assert (a * b).sum(1).min() > 0.99  # and the vectors stay where they were


def test_a_photo_keeps_open_clips_gallery_vectors(tiny_folder: Path, tmp_path: Path) -> None:
    """Issue 70: a photo indexed as an item of one part gets open_clip's gallery-pass vectors."""
    from item_path_check import check_photos_take_the_gallery_pass

    check_photos_take_the_gallery_pass(load_search_model(str(tiny_folder)), tmp_path)
