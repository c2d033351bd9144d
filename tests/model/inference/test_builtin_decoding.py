"""Expected decoding, soft token labels, one-object captions and the attr_P@10 ceiling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from model.bundle.loading import BUILTIN_DIR, BundleError, load_bundle
from model.eval.retrieval import attribute_precision_ceiling, fact_matrix, first_object
from model.fourm.inputs import InputError
from model.inference.predict import predict_embeddings, predict_logits
from model.tokenizers import load_vq_tokenizer
from model.train.global_tokenizers import (
    GlobalTokenizerConfig,
    center_normalize,
    code_scores,
    train_global_tokenizer,
)


@pytest.fixture(scope="module")
def fixture_tokenizer(fourm_fixtures: Path):
    """The official-format DINOv2-global memcodes tokenizer of the conformance fixtures."""
    return load_vq_tokenizer(fourm_fixtures / "tokenizer_DINOv2-B14-global")


@pytest.fixture(scope="module")
def trained() -> tuple[object, torch.Tensor]:
    """A small global tokenizer trained on structured vectors, and those vectors."""
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(300, 6, generator=g) @ torch.randn(6, 32, generator=g) + 2.0
    vectors = center_normalize(raw, raw.mean(0))
    config = GlobalTokenizerConfig(width=32, steps=40, codebook_size=256, live_codes=32)
    return train_global_tokenizer(vectors, config), vectors


def test_expected_decoding_of_one_hot_distributions_is_greedy_decoding(fixture_tokenizer) -> None:
    tokens = torch.randint(0, fixture_tokenizer.vocab_size, (3, 16))
    probs = F.one_hot(tokens, fixture_tokenizer.vocab_size).float()
    torch.testing.assert_close(
        fixture_tokenizer.decode_expected(probs),
        fixture_tokenizer.decode(tokens).float(),
        atol=1e-5,
        rtol=1e-5,
    )


def test_expected_latent_is_the_probability_weighted_mean_of_codes(fixture_tokenizer) -> None:
    quantize = fixture_tokenizer.quantize
    a, b = torch.randint(0, 100, (1, 16, 1, 1)), torch.randint(100, 200, (1, 16, 1, 1))
    v = fixture_tokenizer.vocab_size
    probs = 0.25 * F.one_hot(a, v).float() + 0.75 * F.one_hot(b, v).float()  # [1, 16, 1, 1, V]
    torch.testing.assert_close(
        quantize.expected(probs), 0.25 * quantize.embed(a) + 0.75 * quantize.embed(b)
    )


def test_expected_decoding_refuses_wrong_shapes(fixture_tokenizer) -> None:
    from model.tokenizers import TokenizerInputError

    with pytest.raises(TokenizerInputError, match="expected probabilities"):
        fixture_tokenizer.decode_expected(torch.rand(2, 15, fixture_tokenizer.vocab_size))


def test_predict_embeddings_expected_mode(fourm_fixtures: Path, fixture_tokenizer, inputs) -> None:
    from model import load_fourm

    fm = load_fourm(fourm_fixtures / "fm" / "hub")
    rgb = {"rgb@224": inputs["fm_input.rgb@224.tensor"]}
    spaces = {"tok_dinov2_global": fixture_tokenizer}
    greedy = predict_embeddings(fm, rgb, spaces)["tok_dinov2_global"]
    expected = predict_embeddings(fm, rgb, spaces, "expected")["tok_dinov2_global"]
    probs = predict_logits(fm, rgb, "tok_dinov2_global").softmax(-1)
    reference = F.normalize(fixture_tokenizer.decode_expected(probs), dim=-1)
    torch.testing.assert_close(expected, reference, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(expected, greedy)  # random fixture weights: far from one-hot
    with pytest.raises(InputError, match="decode must be one of"):
        predict_embeddings(fm, rgb, spaces, "sampled")


def test_bundle_refuses_an_unknown_decode_mode(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    shutil.copytree(BUILTIN_DIR, root)
    manifest = json.loads((root / "bundle.json").read_text())
    manifest["decode"] = "sampled"
    (root / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"bundle\.json.*sampled"):
        load_bundle(root)


def test_code_scores_are_standardised_and_agree_with_the_tokens(trained) -> None:
    tok, vectors = trained
    scores = code_scores(tok, vectors, 32)
    assert scores.shape == (300, 16, 32)
    assert float(scores.float().std()) == pytest.approx(1.0, abs=0.01)
    agree = scores.float().argmax(-1) == tok.encode(vectors)  # float16 storage may break ties
    assert float(agree.float().mean()) > 0.99


def test_one_object_captions_and_their_attribute_precision_ceiling() -> None:
    from model.data.captions import object_phrases
    from model.train.pipeline import training_captions

    caption = "A small red metal cube, a blue ball and a green cone."
    assert object_phrases(caption) == ["A small red metal cube.", "A blue ball.", "A green cone."]
    assert first_object(caption) == "A small red metal cube."
    extra = training_captions([(caption, "other phrasing")], 3, seed=0)[0]
    assert extra[:2] == [caption, "other phrasing"]
    assert set(extra[2:]) <= set(object_phrases(caption)) and len(extra) == 5

    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    scenes = [{"objects": [red_cube]}] * 3 + [{"objects": []}] * 17
    facts = fact_matrix(["a red cube", "a small red metal cube, a red cube"], scenes)
    # 3 scenes satisfy either query: no top-10 can hold more than 3 relevant scenes
    assert attribute_precision_ceiling(facts, k=10) == pytest.approx(0.3)
    assert attribute_precision_ceiling(facts, k=2) == pytest.approx(1.0)
