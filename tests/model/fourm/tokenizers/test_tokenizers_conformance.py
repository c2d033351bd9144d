"""Conformance of the VQ tokenizers with the official reference, every fixture case and layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from anyseek.model import load_vq_tokenizer

LAYOUTS = ["single_file", "hub_folder"]
ATOL = RTOL = 1e-4


def tokenizer_source(fixtures: Path, name: str, layout: str) -> Path:
    """The single safetensors file, or the save_pretrained folder, of one fixture tokenizer."""
    folder = fixtures / f"tokenizer_{name}"
    return folder / "model.safetensors" if layout == "single_file" else folder / "hub"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_global_tokens_and_decoded_vectors(fourm_fixtures, inputs, expected, layout):
    tok = load_vq_tokenizer(tokenizer_source(fourm_fixtures, "DINOv2-B14-global", layout))
    features = inputs["DINOv2-B14-global.features"]

    tokens = tok.encode(features)
    assert tokens.dtype == torch.long and tokens.shape == (4, 16)
    assert torch.equal(tokens, expected["DINOv2-B14-global.tokens"])

    decoded = tok.decode(tokens)
    assert decoded.shape == (4, 768) and decoded.dtype == torch.float32
    torch.testing.assert_close(decoded, expected["DINOv2-B14-global.decoded"], atol=ATOL, rtol=RTOL)


def test_global_decode_accepts_predicted_tokens_of_other_dtypes(fourm_fixtures, expected):
    """The FM predicts int64 tokens on its own device; int32 tokens must decode identically."""
    tok = load_vq_tokenizer(tokenizer_source(fourm_fixtures, "DINOv2-B14-global", "single_file"))
    tokens = expected["DINOv2-B14-global.tokens"]
    torch.testing.assert_close(tok.decode(tokens.int()), tok.decode(tokens), atol=0, rtol=0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_semseg_tokens_and_decoded_logits(fourm_fixtures, inputs, expected, layout):
    tok = load_vq_tokenizer(tokenizer_source(fourm_fixtures, "semseg", layout))
    tokens = tok.encode(inputs["semseg.class_map"])
    assert tokens.shape == (2, 196)
    assert torch.equal(tokens, expected["semseg.tokens"].flatten(1))

    logits = tok.decode(tokens)
    assert logits.shape == (2, 134, 224, 224)
    crop = logits[:, :, 96:112, 96:112]
    torch.testing.assert_close(crop, expected["semseg.decoded_logits_crop"], atol=ATOL, rtol=RTOL)
    max_logit = logits.max(dim=1).values
    torch.testing.assert_close(
        max_logit, expected["semseg.decoded_max_logit"], atol=ATOL, rtol=RTOL
    )
    # The README counts 400 pixels whose top-2 logit gap is below 1e-4: only those may differ.
    index = json.loads((fourm_fixtures / "index.json").read_text())
    near_ties = index["semseg_decoded_pixels_with_top2_gap_below_1e-4"]
    mismatches = (logits.argmax(dim=1) != expected["semseg.decoded_argmax"].long()).sum().item()
    assert mismatches <= near_ties


@pytest.mark.parametrize("layout", LAYOUTS)
def test_depth_divae_encoder_tokens_and_embeddings(fourm_fixtures, inputs, expected, layout):
    tok = load_vq_tokenizer(tokenizer_source(fourm_fixtures, "depth_divae", layout))
    tokens = tok.encode(inputs["depth.standardized"])
    assert tokens.shape == (2, 196)
    assert torch.equal(tokens, expected["depth.tokens"].flatten(1))
    torch.testing.assert_close(
        tok.tokens_to_embedding(tokens), expected["depth.tokens_to_embedding"], atol=ATOL, rtol=RTOL
    )
    # These tokens are exactly the FM's tok_depth@224 input of the fixture set.
    assert torch.equal(tokens, inputs["fm_input.tok_depth@224.tensor"])


def test_semseg_tokens_match_the_fm_input(fourm_fixtures, inputs):
    tok = load_vq_tokenizer(tokenizer_source(fourm_fixtures, "semseg", "single_file"))
    assert torch.equal(
        tok.encode(inputs["semseg.class_map"]), inputs["fm_input.tok_semseg@224.tensor"]
    )


def test_grid_and_flat_tokens_decode_alike(fourm_fixtures, expected):
    tok = load_vq_tokenizer(tokenizer_source(fourm_fixtures, "semseg", "single_file"))
    grid = expected["semseg.tokens"][:1]
    torch.testing.assert_close(tok.decode(grid), tok.decode(grid.flatten(1)), atol=0, rtol=0)


def test_tokenizer_reports_its_kind(fourm_fixtures):
    glob = load_vq_tokenizer(tokenizer_source(fourm_fixtures, "DINOv2-B14-global", "hub_folder"))
    depth = load_vq_tokenizer(tokenizer_source(fourm_fixtures, "depth_divae", "hub_folder"))
    assert (glob.input_kind.value, glob.num_tokens, glob.vocab_size, glob.has_decoder) == (
        "global",
        16,
        8192,
        True,
    )
    assert (depth.input_kind.value, depth.num_tokens, depth.vocab_size, depth.has_decoder) == (
        "image",
        196,
        8192,
        False,
    )
