"""The committed built-in model: loads by default, embeds every query kind, retrieves well."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from anyseek.errors import AnyseekError
from model.bundle.loading import BUILTIN_DIR, load_bundle, resolve_bundle_source
from model.data.tensors import SceneTensors, from_samples, pixel_inputs
from model.eval.retrieval import CAPTION_TEXTS, QUERIES, evaluate_retrieval, random_metrics
from model.fourm.checkpoint import CheckpointError
from model.inference.predict import DECODE_MODES, predict_distributions

GALLERY_SEED = 777_001  # the held-out seed of the model card (never used for training)


@pytest.fixture(scope="module")
def bundle():
    return load_bundle("builtin")


@pytest.fixture(scope="module")
def gallery() -> SceneTensors:
    from model.data.sample import generate_scene
    from model.data.synth import scene_seed

    return from_samples([generate_scene(scene_seed(GALLERY_SEED, i), 64) for i in range(200)])


def test_default_setting_resolves_to_the_committed_bundle(settings) -> None:
    assert settings.model.source == "builtin"
    assert resolve_bundle_source(settings.model.source) == BUILTIN_DIR
    files = [p for p in BUILTIN_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 40e6
    assert (BUILTIN_DIR / "MODEL_CARD.md").is_file()


@pytest.mark.parametrize("decode", DECODE_MODES)
def test_every_query_modality_gives_deterministic_unit_vectors(bundle, gallery, decode) -> None:
    bundle = replace(bundle, decode=decode)
    index = torch.arange(4)
    for bases in [("rgb",), *QUERIES.values()]:
        pixels = [bundle.modality(b) for b in bases if b not in CAPTION_TEXTS]
        inputs = pixel_inputs(gallery, index, pixels)
        for text in (b for b in bases if b in CAPTION_TEXTS):  # "caption" or "object" phrasing
            phrasings = [CAPTION_TEXTS[text](c) for c in gallery.captions[:4]]
            inputs["caption"] = bundle.text.caption_batch(phrasings).ids
        first, second = bundle.embed(inputs), bundle.embed(inputs)
        assert set(first) == {"tok_clip_global", "tok_dino_global"}
        for space, vectors in first.items():
            assert vectors.shape[0] == 4
            torch.testing.assert_close(vectors.norm(dim=1), torch.ones(4))
            assert torch.equal(vectors, second[space])  # no sampling: same input, same vector
        one = bundle.embed({k: v[:1] for k, v in inputs.items()})  # batching changes nothing
        for space, vectors in one.items():
            torch.testing.assert_close(vectors[0], first[space][0], atol=1e-5, rtol=1e-5)


def test_retrieval_is_well_above_random_on_a_small_gallery(bundle, gallery) -> None:
    # measured on these 200 held-out scenes when the model was committed (random R@10 0.05,
    # MRR 0.03, object attr_P@10 0.04): caption fused R@10 1.00, MRR 0.93; sketch / semseg /
    # depth fused R@10 0.76 / 0.88 / 0.88; caption+sketch MRR 0.97; object attr_P@10 0.25
    names = ("caption", "sketch", "semseg", "depth", "caption+sketch", "object")
    report = evaluate_retrieval(bundle, gallery, queries={q: QUERIES[q] for q in names}).report
    chance = random_metrics(len(gallery))
    assert report["caption"]["fused"]["R@10"] >= 0.9, report["caption"]
    assert report["caption"]["fused"]["MRR"] >= 0.8, report["caption"]
    for query in ("sketch", "semseg", "depth"):
        fused = report[query]["fused"]
        assert fused["R@10"] >= 10 * chance["R@10"], (query, fused)
        # information-weighted fusion follows the space that can read the query
        best = max(report[query][s]["MRR"] for s in ("clip", "dino"))
        assert fused["MRR"] >= best - 0.03, (query, report[query])
    both = report["caption+sketch"]["fused"]["MRR"]
    assert both > max(report["caption"]["fused"]["MRR"], report["sketch"]["fused"]["MRR"])
    assert report["object"]["fused"]["attr_P@10"] >= 3 * report["object"]["random"]["attr_P@10"]


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(BUILTIN_DIR, target)
    return target


def test_missing_or_corrupt_parts_are_named(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "fm" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        load_bundle(root)
    root = _copy(tmp_path / "b")
    (root / "tokenizers" / "tok_dino_global" / "model.safetensors").unlink()
    with pytest.raises(AnyseekError, match="tok_dino_global"):
        load_bundle(root)
    root = _copy(tmp_path / "c")
    (root / "bundle.json").unlink()
    with pytest.raises(AnyseekError, match=r"bundle\.json"):
        load_bundle(root)


def test_config_that_does_not_match_the_weights_is_refused(tmp_path: Path) -> None:
    import json

    root = _copy(tmp_path)
    config_path = root / "fm" / "config.json"
    config = json.loads(config_path.read_text())
    config["dim"] = config["dim"] * 2
    config_path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_bundle(root)


def test_unknown_modality_is_named(bundle) -> None:
    with pytest.raises(AnyseekError, match="thermal"):
        bundle.modality("thermal")
    with pytest.raises(AnyseekError, match="thermal"):
        bundle.embed({"thermal@64": torch.zeros(1, 1, 64, 64)})


def test_information_says_which_space_can_read_a_query(bundle, gallery) -> None:
    assert set(bundle.priors) == set(bundle.spaces)  # the committed bundle ships its priors
    index = torch.arange(8)
    sketch = pixel_inputs(gallery, index, [bundle.modality("sketch")])
    found, plain = bundle.embed_spaces(sketch), bundle.embed(sketch)
    probs = predict_distributions(bundle.fm, sketch, list(bundle.spaces))
    for space, embedding in found.items():
        assert torch.equal(embedding.vectors, plain[space])
        # information is the mean KL divergence of the token predictions from the space's prior
        p, prior = probs[space], bundle.priors[space]
        kl = (p * (p.clamp_min(1e-30).log() - prior.clamp_min(1e-30).log())).sum(-1).mean(-1)
        torch.testing.assert_close(embedding.information, kl)
    # a sketch has no colour: it tells the layout space far more than the semantic one, and a
    # caption the other way round
    assert (found["tok_dino_global"].information > found["tok_clip_global"].information).all()
    ids = bundle.text.caption_batch([c[0] for c in gallery.captions[:8]]).ids
    caption = bundle.embed_spaces({"caption": ids})
    assert (caption["tok_clip_global"].information > caption["tok_dino_global"].information).all()


def test_a_priors_file_that_does_not_fit_is_named(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from model.bundle.loading import BundleError

    root = _copy(tmp_path)
    save_file({"tok_clip_global": torch.ones(4, 4)}, str(root / "priors.safetensors"))
    with pytest.raises(BundleError, match=r"priors\.safetensors.*tok_clip_global"):
        load_bundle(root)
    (root / "priors.safetensors").write_bytes(b"garbage")
    with pytest.raises(BundleError, match=r"priors\.safetensors"):
        load_bundle(root)


def test_the_committed_model_is_what_its_recipe_trains() -> None:
    import json
    from dataclasses import asdict

    from model.bundle.definition import BUILTIN
    from model.train.recipe import load_recipe

    recipe = json.loads((BUILTIN_DIR / "bundle.json").read_text())["recipe"].split()[-1]
    config = load_recipe(recipe)
    shipped = json.loads((BUILTIN_DIR / "train_config.json").read_text())
    assert shipped == json.loads(json.dumps(asdict(config)))
    fm = json.loads((BUILTIN_DIR / "fm" / "config.json").read_text())
    assert fm == config.fm.fourm_config(BUILTIN.outputs).to_dict()
