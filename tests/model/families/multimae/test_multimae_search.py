"""MultiMAE as a search model: dispatch, embeddings, queries and reconstructions (random weights).

Random weights test the mechanics only (shapes, normalisation, determinism, masking); whether the
space retrieves anything useful needs the released checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anyseek.model.families.base import SearchModelBase
from anyseek.model.families.interface import ModelError, QueryRequest, SearchModel
from anyseek.model.families.multimae import MultiMAE, MultiMAEConfig, save_multimae
from anyseek.model.families.multimae.search import MultiMAESearchModel, is_multimae_source
from anyseek.model.families.registry import load_search_model
from anyseek.model.transforms import UserInputError
from anyseek.scenes import generate_scene

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny random-weight MultiMAE saved as .safetensors (config in the metadata)."""
    torch.manual_seed(0)
    model = MultiMAE(MultiMAEConfig.named("test_multimae_tiny"))
    return save_multimae(model, tmp_path_factory.mktemp("mm") / "model.safetensors")


@pytest.fixture(scope="module")
def search_model(checkpoint: Path) -> MultiMAESearchModel:
    torch.set_num_threads(1)
    # float32 pinned: "auto" computes gallery batches in bfloat16 where that pays (AMX), and
    # these tests hold the gallery to the query path and the reference to 1e-5
    found = load_search_model(str(checkpoint), precision="float32")
    assert isinstance(found, MultiMAESearchModel) and isinstance(found, SearchModelBase)
    return found


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> list[dict]:
    """Generated scenes as user files: rgb image, 16-bit depth PNG + .npy, semseg id PNG."""
    folder = tmp_path_factory.mktemp("scenes")
    out = []
    for seed in SEEDS:
        scene = generate_scene(seed, 64)
        depth_mm = np.round(scene.depth * 1000).astype(np.uint16)
        Image.fromarray(depth_mm).save(folder / f"{seed}_depth.png")
        np.save(folder / f"{seed}_depth.npy", depth_mm.astype(np.float32))
        Image.fromarray(scene.semseg).save(folder / f"{seed}_semseg.png")
        out.append(
            {
                "rgb": Image.fromarray(scene.rgb),
                "depth_png": folder / f"{seed}_depth.png",
                "depth_npy": folder / f"{seed}_depth.npy",
                "semseg": folder / f"{seed}_semseg.png",
                "semseg_ids": scene.semseg,
            }
        )
    return out


def _query(model: MultiMAESearchModel, **files) -> np.ndarray:
    inputs = {k: model.query_modalities[k].transform(v) for k, v in files.items()}
    return model.embed_query(inputs)["multimae"].vector


def test_dispatch_identity_spaces_and_modalities(search_model, checkpoint, tmp_path):
    assert isinstance(search_model, SearchModel)
    assert [(s.name, s.dim) for s in search_model.spaces] == [("multimae", 48)]
    assert set(search_model.query_modalities) == {"image", "depth", "semseg"}
    assert len(search_model.version) == 16
    # The released layout (.pth + config.json in a folder) dispatches too; bundles do not.
    sd = search_model.model.state_dict()
    torch.save({"model": sd}, tmp_path / "multimae-tiny.pth")
    config = search_model.model.config.to_dict()
    (tmp_path / "config.json").write_text(json.dumps(config))
    again = load_search_model(str(tmp_path))
    assert isinstance(again, MultiMAESearchModel) and again.name == tmp_path.name
    assert not is_multimae_source("model/builtin/weights") and not is_multimae_source("builtin")
    assert is_multimae_source(checkpoint)


def test_gallery_vectors_are_normalised_and_deterministic(search_model, scenes):
    batch = torch.stack([search_model.image_input(s["rgb"]) for s in scenes])
    assert batch.shape == (3, 3, 96, 96)
    first = search_model.embed_images(batch)["multimae"]
    assert first.shape == (3, 48) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    single = search_model.embed_images(batch[1:2])["multimae"]
    np.testing.assert_allclose(single[0], first[1], atol=1e-5)  # batching changes nothing
    assert float(np.abs(first[0] - first[1]).max()) > 1e-3  # different scenes, different vectors
    image_query = _query(search_model, image=scenes[1]["rgb"])
    np.testing.assert_allclose(image_query, first[1], atol=1e-5)  # query = gallery vector


def test_depth_semseg_and_combined_queries(search_model, scenes):
    scene = scenes[0]
    from_png = _query(search_model, depth=scene["depth_png"])
    from_npy = _query(search_model, depth=scene["depth_npy"])
    np.testing.assert_allclose(from_png, from_npy, atol=1e-4)  # standardisation removes the scale
    vectors = {
        "depth": from_png,
        "semseg": _query(search_model, semseg=scene["semseg"]),
        "rgb+depth": _query(search_model, image=scene["rgb"], depth=scene["depth_png"]),
        "all": _query(
            search_model, image=scene["rgb"], depth=scene["depth_png"], semseg=scene["semseg"]
        ),
    }
    for name, vector in vectors.items():
        assert vector.shape == (48,) and vector.dtype == np.float32, name
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5, name
    names = list(vectors)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert float(np.abs(vectors[a] - vectors[b]).max()) > 1e-4, (a, b)
    found = search_model.embed_query(
        {"depth": search_model.query_modalities["depth"].transform(scene["depth_png"])}
    )
    assert found["multimae"].information == 1.0


def test_unlabelled_segmentation_pixels_mask_their_patches(search_model, scenes):
    ids = scenes[0]["semseg_ids"].copy()
    full = _query(search_model, semseg=ids)
    holes = ids.copy()
    holes[:16, :16] = 255  # COCO "unlabelled": the top-left patch is left out of the encoder
    transform = search_model.query_modalities["semseg"].transform
    assert int(transform(holes).min()) == -1
    partial = _query(search_model, semseg=holes)
    assert float(np.abs(partial - full).max()) > 1e-4
    with pytest.raises(UserInputError, match="no labelled patch"):
        _query(search_model, semseg=np.full((64, 64), 255, np.uint8))
    with pytest.raises(UserInputError, match=r"class ids \[13\]"):
        _query(search_model, semseg=np.full((64, 64), 13, np.uint8))
    with pytest.raises(ModelError, match="not accepted"):
        search_model.embed_query({"caption": torch.zeros(3)})


def test_reconstructions_from_images(search_model, scenes):
    batch = torch.stack([search_model.image_input(s["rgb"]) for s in scenes[:2]])
    rec = search_model.reconstruct(batch)
    assert rec.depth.shape == (2, 1, 96, 96)
    assert rec.semseg_logits.shape == (2, 13, 24, 24)
    assert rec.semseg.shape == (2, 24, 24) and int(rec.semseg.max()) < 13
    again = search_model.reconstruct(batch[1:])
    torch.testing.assert_close(again.depth[0], rec.depth[1], atol=1e-5, rtol=0)
    thumbs = rec.thumbnails(1, size=64)
    assert thumbs["depth"].size == (64, 64) and thumbs["depth"].mode == "L"
    assert thumbs["semseg"].size == (64, 64) and thumbs["semseg"].mode == "RGB"


@pytest.mark.parametrize(
    "layout",
    ["multimae-tiny-dev_multivit-a518ea13.pth", "multimae-tiny-dev_timm-2cbe2cb6.pth"],
)
def test_released_layouts_as_search_models(multimae_fixtures, layout):
    """The space is the normalised global token of the reference's encoder output."""
    from safetensors.torch import load_file

    found = load_search_model(str(multimae_fixtures / "checkpoint" / layout), precision="float32")
    inputs = load_file(multimae_fixtures / "inputs.safetensors")
    expected = load_file(multimae_fixtures / "expected.safetensors")
    vectors = found.embed_images(inputs["rgb"])["multimae"]
    reference = torch.nn.functional.normalize(expected["encode.rgb"][:, -1], dim=-1)
    np.testing.assert_allclose(vectors, reference.numpy(), atol=1e-5)
    if "timm" in layout:  # rgb encoder only: image queries, no reconstructions
        assert set(found.query_modalities) == {"image"}
        with pytest.raises(ModelError, match="no depth/semseg output adapters"):
            found.reconstruct(inputs["rgb"])
    else:
        rec = found.reconstruct(inputs["rgb"])
        assert rec.depth.shape == (2, 1, 96, 96)


def test_settings_and_bfloat16(checkpoint, scenes):
    """ModelSettings are honoured: a bfloat16 model gives vectors close to the float32 ones."""
    from anyseek.settings import ModelSettings

    full = load_search_model(ModelSettings(source=str(checkpoint), device="cpu"))
    half = load_search_model(ModelSettings(source=str(checkpoint), device="cpu", dtype="bfloat16"))
    assert isinstance(half, MultiMAESearchModel)
    assert half.model.global_tokens.dtype == torch.bfloat16
    batch = torch.stack([full.image_input(s["rgb"]) for s in scenes])
    a, b = full.embed_images(batch)["multimae"], half.embed_images(batch)["multimae"]
    assert b.dtype == np.float32
    assert float((a * b).sum(1).min()) > 0.99  # cosine between the two precisions
    assert half.reconstruct(batch[:1]).depth.dtype == torch.float32


def test_weighted_parts_are_fused(search_model, scenes):
    scene = scenes[0]
    inputs = {
        "image": search_model.query_modalities["image"].transform(scene["rgb"]),
        "depth": search_model.query_modalities["depth"].transform(scene["depth_png"]),
    }
    alone = {k: search_model.embed_query({k: v})["multimae"].vector for k, v in inputs.items()}
    fused = search_model.embed_query(inputs, {"depth": -0.5})["multimae"].vector
    expected = alone["image"] - 0.5 * alone["depth"]  # information is 1 for every part
    np.testing.assert_allclose(fused, expected / np.linalg.norm(expected), atol=1e-5)
    [batched] = search_model.embed_queries([QueryRequest(inputs, {"depth": -0.5})])
    np.testing.assert_array_equal(batched["multimae"].vector, fused)
    with pytest.raises(ModelError, match="use fusion"):
        search_model.embed_query(inputs, {"depth": 0.5}, "guidance")
    assert search_model.palette is None


def test_the_precision_setting_is_honoured_by_multimae(checkpoint: Path) -> None:
    from precision_check import check_precision_honoured

    from anyseek.settings import ModelSettings

    photos = [Image.fromarray(generate_scene(seed, 64).rgb) for seed in SEEDS]
    check_precision_honoured(ModelSettings(source=str(checkpoint)), photos)


def test_a_photo_keeps_multimaes_gallery_vectors(search_model, tmp_path: Path) -> None:
    """Issue 70: a photo indexed as an item of one part gets MultiMAE's gallery-pass vectors."""
    from item_path_check import check_photos_take_the_gallery_pass

    check_photos_take_the_gallery_pass(search_model, tmp_path)
