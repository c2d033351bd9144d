"""Official-format 4M checkpoints as search models, on the conformance fixtures' FM and tokenizers
(laid out like the Hugging Face repos) plus tiny generated ones for what the fixtures lack."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anyseek.model.families.interface import ModelError, QueryRequest
from anyseek.model.families.official import load_official_search_model
from anyseek.model.families.official import sources as official_sources
from anyseek.model.families.official.search import OfficialSearchModel
from anyseek.model.families.official.synthetic import write_fm, write_tokenizer
from anyseek.model.families.registry import load_search_model
from anyseek.model.transforms.base import UserInputError
from anyseek.settings import ModelSettings

FIXTURE_TOKENIZERS = {
    "tokenizer_DINOv2-B14-global": "4M_tokenizers_DINOv2-B14-global_8k_16_224",
    "tokenizer_depth_divae": "4M_tokenizers_depth_8k_224-448",
    "tokenizer_semseg": "4M_tokenizers_semseg_4k_224-448",
}
DINO_REPO = "EPFL-VILAB/4M_tokenizers_DINOv2-B14-global_8k_16_224"


@pytest.fixture(scope="module")
def tokenizers(fourm_fixtures: Path, tmp_path_factory) -> Path:
    """A tokenizers folder as a user downloads it: one folder per repo, named like the repo."""
    root = tmp_path_factory.mktemp("tokenizers")
    for fixture, repo in FIXTURE_TOKENIZERS.items():
        shutil.copytree(fourm_fixtures / fixture / "hub", root / repo)
    write_tokenizer("tok_imagebind_global", root)  # the fixtures have none
    write_tokenizer("tok_canny_edge@224", root)
    return root


@pytest.fixture(scope="module")
def model(fourm_fixtures: Path, tokenizers: Path) -> OfficialSearchModel:
    settings = ModelSettings(
        source=str(fourm_fixtures / "fm"), tokenizers=str(tokenizers), precision="float32"
    )  # float32 pinned: "auto" is bfloat16 on a CPU where it pays, and these compare at 1e-5
    found = load_search_model(settings.model_copy(update={"device": "cpu"}))
    assert isinstance(found, OfficialSearchModel)
    return found


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Query files as users have them."""
    folder = tmp_path_factory.mktemp("queries")
    rng = np.random.default_rng(0)
    out = {}
    out["image"] = folder / "photo.jpg"
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(out["image"])
    out["depth"] = folder / "depth.png"
    depth = (rng.random((90, 90)) * 30000 + 1000).astype(np.uint16)
    Image.fromarray(depth).save(out["depth"])
    out["depth_npy"] = folder / "depth.npy"
    np.save(out["depth_npy"], rng.random((64, 64)).astype(np.float32) + 0.5)
    out["semseg"] = folder / "semseg.png"
    paint = np.zeros((64, 64, 3), np.uint8)
    paint[:, :32] = (220, 20, 60)  # person
    paint[32:, 32:] = (106, 0, 228)  # bicycle... any COCO palette colour
    Image.fromarray(paint).save(out["semseg"])
    out["sketch"] = folder / "sketch.png"
    sketch = np.full((100, 100), 255, np.uint8)
    sketch[20:80, 50] = 0
    sketch[50, 10:90] = 0
    Image.fromarray(sketch).save(out["sketch"])
    return out


def test_loads_fixture_fm_and_tokenizers_from_repo_named_folders(model) -> None:
    assert [(s.name, s.output, s.dim) for s in model.spaces] == [
        ("dinov2", "tok_dinov2_global", 768),
        ("imagebind", "tok_imagebind_global", 1024),
    ]
    # the fixture FM takes rgb, caption, depth, semseg and canny edges
    assert set(model.query_modalities) == {"caption", "image", "depth", "semseg", "sketch", "edges"}
    assert model.query_modalities["depth"].input == "tok_depth@224"
    assert model.query_modalities["sketch"].input == "tok_canny_edge@224"
    assert model.palette is None and len(model.version) == 16


def test_official_sources_are_recognised(fourm_fixtures) -> None:
    from anyseek.model.families.official import is_official_source

    assert is_official_source(fourm_fixtures / "fm")  # config in the weights' metadata
    assert is_official_source(fourm_fixtures / "fm" / "hub")  # config.json
    assert is_official_source(fourm_fixtures / "fm" / "model.safetensors")
    assert is_official_source("EPFL-VILAB/4M-21_B") and is_official_source(
        "EPFL-VILAB/4M-7_B_CC12M"
    )
    assert not is_official_source(DINO_REPO)
    assert not is_official_source(fourm_fixtures / "tokenizer_semseg")
    assert not is_official_source("builtin")


def test_embeddings_equal_predict_embeddings_of_the_fixture_model(
    model, fourm_fixtures, tokenizers, files
) -> None:
    from anyseek.model import load_fourm, load_vq_tokenizer, predict_embeddings
    from anyseek.model.transforms import transform_for

    fm = load_fourm(fourm_fixtures / "fm")
    spaces = {
        "tok_dinov2_global": load_vq_tokenizer(
            tokenizers / FIXTURE_TOKENIZERS["tokenizer_DINOv2-B14-global"]
        ),
        "tok_imagebind_global": load_vq_tokenizer(
            tokenizers / "4M_tokenizers_ImageBind-H14-global_8k_16_224"
        ),
    }
    rgb = torch.stack([model.image_input(files["image"]), transform_for("rgb")(files["image"])])
    got = model.embed_images(rgb)
    want = predict_embeddings(fm, {"rgb@224": rgb}, spaces)
    for space in model.spaces:
        np.testing.assert_allclose(got[space.name], want[space.output].numpy(), atol=1e-6)
    depth_tok = load_vq_tokenizer(tokenizers / FIXTURE_TOKENIZERS["tokenizer_depth_divae"])
    tokens = depth_tok.encode(transform_for("depth")(files["depth"])[None])
    query = model.query_modalities["depth"].transform(files["depth"].read_bytes())
    assert torch.equal(query, tokens[0])
    got = model.embed_query({"depth": query})
    want = predict_embeddings(fm, {"tok_depth@224": tokens}, spaces)
    for space in model.spaces:
        np.testing.assert_allclose(got[space.name].vector, want[space.output][0].numpy(), atol=1e-6)


def test_every_query_modality_works_from_user_files(model, files) -> None:
    q = model.query_modalities
    inputs = {
        "caption": q["caption"].transform("a person riding a bicycle"),
        "image": q["image"].transform(files["image"]),
        "depth": q["depth"].transform(files["depth_npy"].read_bytes()),
        "semseg": q["semseg"].transform(files["semseg"]),
        "sketch": q["sketch"].transform(files["sketch"]),
        "edges": q["edges"].transform(files["sketch"]),
    }
    for name, value in inputs.items():
        found = model.embed_query({name: value})
        for space in model.spaces:
            vector = found[space.name].vector
            assert vector.shape == (space.dim,) and abs(np.linalg.norm(vector) - 1) < 1e-5, name
    joint = model.embed_queries(
        [
            QueryRequest(inputs),
            QueryRequest(
                {"caption": inputs["caption"], "depth": inputs["depth"]},
                {"depth": -0.5},
                "guidance",
            ),
        ]
    )
    assert [set(j) for j in joint] == [{"dinov2", "imagebind"}] * 2
    with pytest.raises(ModelError, match=r"not accepted.*caption"):
        model.embed_query({"metadata": torch.tensor([3])})


def test_priors_estimated_from_images_and_used_for_information(model, files) -> None:
    rgb = torch.stack([model.image_input(files["image"]), model.image_input(files["sketch"])])
    query = {"caption": model.query_modalities["caption"].transform("a red car")}
    model.set_priors({})
    uniform = model.embed_query(query)
    priors = model.estimate_priors(rgb)
    assert set(priors) == {"dinov2", "imagebind"}
    for prior in priors.values():
        assert prior.shape == (16, 8192)
        torch.testing.assert_close(prior.sum(-1), torch.ones(16))
    from anyseek.model.families.official.priors import priors_from_bytes, priors_to_bytes

    stored = priors_from_bytes(priors_to_bytes(priors))  # as a collection keeps them
    assert all(torch.equal(stored[k], priors[k]) for k in priors)
    model.set_priors(stored)
    try:
        informed = model.embed_query(query)
        assert set(model.priors) == {"dinov2", "imagebind"}
        for space in ("dinov2", "imagebind"):
            np.testing.assert_allclose(informed[space].vector, uniform[space].vector)
            assert informed[space].information != pytest.approx(uniform[space].information)
        with pytest.raises(ModelError, match="not \\[16, 8192\\]"):
            model.set_priors({"dinov2": torch.ones(4, 4)})
        with pytest.raises(ModelError, match="unknown space 'clip'"):
            model.set_priors({"clip": priors["dinov2"]})
    finally:
        model.set_priors({})


def test_describe_is_a_deterministic_caption(model, files) -> None:
    depth = model.query_modalities["depth"].transform(files["depth"])
    first = model.describe({"depth": depth}, max_tokens=12)
    assert isinstance(first, str) and first
    assert model.describe({"depth": depth}, max_tokens=12) == first
    caption = model.query_modalities["caption"].transform("two dogs on a beach")
    assert model.describe({"caption": caption}) == "two dogs on a beach"


def test_missing_space_tokenizer_names_the_repo(fourm_fixtures, tokenizers, tmp_path) -> None:
    partial = tmp_path / "tokenizers"
    shutil.copytree(tokenizers, partial)
    shutil.rmtree(partial / DINO_REPO.split("/")[1])
    with pytest.raises(ModelError, match=f"dinov2 \\(tok_dinov2_global\\): {DINO_REPO}"):
        load_official_search_model(fourm_fixtures / "fm", tokenizers=partial)


def test_missing_query_tokenizer_drops_the_modality_and_names_its_repo(
    fourm_fixtures, tokenizers, tmp_path
) -> None:
    partial = tmp_path / "tokenizers"
    shutil.copytree(tokenizers, partial)
    shutil.rmtree(partial / FIXTURE_TOKENIZERS["tokenizer_semseg"])
    model = load_official_search_model(fourm_fixtures / "fm" / "hub", tokenizers=partial)
    assert "semseg" not in model.query_modalities
    with pytest.raises(ModelError, match="EPFL-VILAB/4M_tokenizers_semseg_4k_224-448"):
        model.embed_query({"semseg": torch.zeros(196, dtype=torch.long)})


def test_licence_notice_printed_once_per_process(fourm_fixtures, tokenizers, capsys) -> None:
    official_sources._NOTICE_SHOWN.clear()
    load_official_search_model(fourm_fixtures / "fm", tokenizers=tokenizers)
    load_official_search_model(fourm_fixtures / "fm", tokenizers=tokenizers)
    err = capsys.readouterr().err
    assert err.count("NON-COMMERCIAL") == 1 and "LICENSE_WEIGHTS" in err


@pytest.fixture(scope="module")
def structured_model(tmp_path_factory) -> OfficialSearchModel:
    """A generated 4M-21-like FM with the inputs and the CLIP output the fixture FM lacks."""
    folder = tmp_path_factory.mktemp("fm21")
    domains_in = [
        "rgb@224",
        "caption",
        "det",
        "metadata",
        "color_palette",
        "tok_normal@224",
        "tok_sam_edge@224",
    ]
    write_fm(folder / "fm" / "model.safetensors", domains_in, ["caption", "tok_clip@224"])
    for modality in ("tok_clip@224", "tok_normal@224", "tok_canny_edge@224"):
        write_tokenizer(modality, folder / "tokenizers" / "EPFL-VILAB")
    return load_official_search_model(folder / "fm", tokenizers=folder / "tokenizers")


def test_structured_inputs_and_clip_space_on_a_generated_fm(structured_model, files) -> None:
    from anyseek.model.families.official.structured import METADATA_KEYS, serialize_boxes

    model = structured_model
    assert [(s.name, s.output, s.dim) for s in model.spaces] == [("clip", "tok_clip@224", 512)]
    assert set(model.query_modalities) == {
        "caption",
        "image",
        "sam_edges",
        "normal",
        "color_palette",
        "det",
        "metadata",
    }
    q = model.query_modalities
    boxes = [{"class": "person", "box": [0.0, 0.2, 0.4, 1.0]}, ["dog", [0.5, 0.6, 0.9, 1.0]]]
    inputs = {
        "color_palette": q["color_palette"].transform([[255, 0, 0], "#00ff00"]),
        "det": q["det"].transform(boxes),
        "metadata": q["metadata"].transform({"brightness": 180, "n_humans": 1}),
        "normal": q["normal"].transform(files["image"]),
        "sam_edges": q["sam_edges"].transform(files["sketch"]),
    }
    text = model.bundle.text
    assert inputs["det"].tolist() == [*text.encode(serialize_boxes(boxes)), text.eos_id]
    assert text.decode(inputs["color_palette"]) == "v1=2 v0=255 v0=0 v0=0 v0=0 v0=255 v0=0"
    for name, value in inputs.items():
        vector = model.embed_query({name: value})["clip"].vector
        assert vector.shape == (512,) and np.isfinite(vector).all(), name
    assert model.embed_query(inputs)["clip"].vector.shape == (512,)
    gallery = model.embed_images(torch.stack([q["image"].transform(files["image"])] * 2))
    assert gallery["clip"].shape == (2, 512)
    with pytest.raises(UserInputError, match="outside the image"):
        q["det"].transform([["person", [0.0, 0.0, 1.5, 1.0]]])
    with pytest.raises(UserInputError, match=r"43 tokens long.*at most 40"):
        q["metadata"].transform(dict.fromkeys(METADATA_KEYS, 1))  # 21 entries: 2 tokens each


def test_an_item_of_several_modalities_is_one_encoder_pass(model, files, monkeypatch):
    """Issue 51: a record of a photo, a depth map and a caption is indexed from all three at
    once, in one encoder pass for the whole batch of records, and its vectors are the joint
    query's of the same parts."""
    from anyseek.indexer.decode import DecodeLimits, decode_item
    from anyseek.indexer.fetch import Fetched, FetchedPart
    from anyseek.indexer.sources import SourceRef
    from anyseek.model.service import embed_items

    values = {
        "rgb": files["image"].read_bytes(),
        "depth": files["depth"].read_bytes(),
        "caption": "a red car on a street",
    }
    parts = tuple(FetchedPart(k, v, k) for k, v in values.items())
    ref = SourceRef("record:1", "record", parts=tuple((k, k) for k in values))
    fetched = Fetched(ref, values["rgb"], "h", 0, None, parts)
    decoded = decode_item(fetched, DecodeLimits(10**8, 64), model)
    assert set(decoded.inputs) == {"image", "depth", "caption"}
    seen = []
    encode = model.bundle.fm.encode

    def counted(enc):
        seen.append(enc)
        return encode(enc)

    monkeypatch.setattr(model.bundle.fm, "encode", counted)
    rows = embed_items(model, [decoded.inputs] * 3, batch_size=8)
    assert len(seen) == 1  # three records of three modalities: one encoder pass
    joint = model.embed_query(decoded.inputs)
    names = sorted(s.name for s in model.spaces)
    expected = np.concatenate([joint[n].vector for n in names])
    np.testing.assert_allclose(rows[0], expected, atol=1e-5)


def test_the_precision_setting_is_honoured_by_official_4m(
    fourm_fixtures: Path, tokenizers: Path, files: dict[str, Path]
) -> None:
    from precision_check import check_precision_honoured

    settings = ModelSettings(source=str(fourm_fixtures / "fm"), tokenizers=str(tokenizers))
    # a tokenized space of the tiny random fixture moves most (bench/results/precision.md)
    check_precision_honoured(settings, [files["image"], files["image"]], min_cosine=0.8)


def test_a_photo_keeps_official_4ms_gallery_vectors(model, tmp_path: Path) -> None:
    """Issue 70: a photo indexed as an item of one part gets the official 4M model's
    gallery-pass vectors (every space in one pass)."""
    from item_path_check import check_photos_take_the_gallery_pass

    check_photos_take_the_gallery_pass(model, tmp_path)
