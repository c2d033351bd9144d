"""Tokenizer loading by name/repo/file, config tolerance, presets, and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from anyseek.model import TokenizerError, load_vq_tokenizer
from anyseek.model.fourm.checkpoint import CheckpointError
from anyseek.model.fourm.tokenizers import (
    TOKENIZER_PRESETS,
    TokenizerInputError,
    preset_for_modality,
    resolve_tokenizer_source,
)
from anyseek.model.fourm.tokenizers.presets import parse_mlp, parse_vit


def fixture_file(fixtures: Path, name: str) -> Path:
    """The single-file checkpoint of one fixture tokenizer."""
    return fixtures / f"tokenizer_{name}" / "model.safetensors"


def rewrite_checkpoint(src: Path, dst: Path, **config_changes: str) -> Path:
    """Copy a single-file checkpoint, changing or adding metadata config values."""
    with safe_open(str(src), framework="pt") as handle:
        metadata = dict(handle.metadata())
    metadata.update(config_changes)
    save_file(load_file(src), str(dst), metadata=metadata)
    return dst


@pytest.fixture(scope="module")
def glob(fourm_fixtures):
    """The global DINOv2 fixture tokenizer."""
    return load_vq_tokenizer(fixture_file(fourm_fixtures, "DINOv2-B14-global"))


@pytest.fixture(scope="module")
def semseg(fourm_fixtures):
    """The semantic segmentation fixture tokenizer."""
    return load_vq_tokenizer(fixture_file(fourm_fixtures, "semseg"))


@pytest.fixture(scope="module")
def depth(fourm_fixtures):
    """The depth DiVAE fixture tokenizer (encoder only)."""
    return load_vq_tokenizer(fixture_file(fourm_fixtures, "depth_divae"))


# --- sources --------------------------------------------------------------------------------------
def test_preset_name_and_repo_id_load_through_the_hub(fourm_fixtures, monkeypatch):
    """A preset name resolves to the official repo id, which is fetched with huggingface-hub."""
    import huggingface_hub

    requested = []

    def fake_download(repo_id: str, filename: str) -> str:
        """Serve the fixture hub folder in place of the network."""
        requested.append((repo_id, filename))
        return str(fourm_fixtures / "tokenizer_DINOv2-B14-global" / "hub" / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    by_name = load_vq_tokenizer("DINOv2-B14-global")
    repo = "EPFL-VILAB/4M_tokenizers_DINOv2-B14-global_8k_16_224"
    assert requested == [(repo, "model.safetensors"), (repo, "config.json")]
    by_file = load_vq_tokenizer(fixture_file(fourm_fixtures, "DINOv2-B14-global"))
    features = torch.randn(3, 768)
    assert torch.equal(by_name.encode(features), by_file.encode(features))


def test_resolve_tokenizer_source_passes_paths_through(tmp_path):
    assert resolve_tokenizer_source("depth") == "EPFL-VILAB/4M_tokenizers_depth_8k_224-448"
    assert resolve_tokenizer_source(tmp_path) == tmp_path
    assert resolve_tokenizer_source("owner/custom-tokenizer") == "owner/custom-tokenizer"


def test_unknown_config_keys_are_ignored(fourm_fixtures, tmp_path, semseg):
    src = fixture_file(fourm_fixtures, "semseg")
    copy = rewrite_checkpoint(
        src, tmp_path / "model.safetensors", future_option="True", another_one="['a', 'b']"
    )
    loaded = load_vq_tokenizer(copy)
    class_map = torch.randint(0, 134, (1, 224, 224))
    assert torch.equal(loaded.encode(class_map), semseg.encode(class_map))


def test_config_that_does_not_match_the_weights_names_the_keys(fourm_fixtures, tmp_path):
    src = fixture_file(fourm_fixtures, "depth_divae")
    bad = rewrite_checkpoint(src, tmp_path / "model.safetensors", enc_type="vit_tiny_d32_l2_h1_enc")
    with pytest.raises(CheckpointError, match=r"missing: encoder\.blocks\.1\."):
        load_vq_tokenizer(bad)


def test_fm_checkpoint_is_not_a_tokenizer(fourm_fixtures):
    with pytest.raises(TokenizerError, match="looks like a 4M model"):
        load_vq_tokenizer(fourm_fixtures / "fm" / "model.safetensors")


def test_missing_source(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_vq_tokenizer(tmp_path / "nothing.safetensors")


# --- the right tokenizer for the modality --------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "modality"),
    [
        ("DINOv2-B14-global", "tok_dinov2_global"),
        ("semseg", "tok_semseg@224"),
        ("depth_divae", "tok_depth@224"),
        ("depth_divae", "depth"),
    ],
)
def test_matching_modality_is_accepted(fourm_fixtures, name, modality):
    assert load_vq_tokenizer(fixture_file(fourm_fixtures, name), modality=modality).vocab_size > 0


@pytest.mark.parametrize(
    ("name", "modality", "reason"),
    [
        ("depth_divae", "tok_semseg@224", "takes image input, the modality needs labels"),
        ("semseg", "tok_depth@224", "takes labels input"),
        ("DINOv2-B14-global", "tok_depth@224", "takes global input"),
        ("depth_divae", "tok_dinov2_global", "vocabulary 8192"),  # input kind differs too
        ("depth_divae", "tok_normal@224", "1 input channels, the modality needs 3"),
        ("semseg", "tok_imagebind_global", "takes labels input"),
    ],
)
def test_wrong_kind_of_tokenizer_for_the_modality_is_refused(
    fourm_fixtures, name, modality, reason
):
    with pytest.raises(TokenizerError, match=f"not a tokenizer for '{modality}'") as err:
        load_vq_tokenizer(fixture_file(fourm_fixtures, name), modality=modality)
    if "vocabulary" not in reason:
        assert reason in str(err.value)


def test_unknown_modality_has_no_tokenizer():
    with pytest.raises(TokenizerError, match="no tokenizer is known for modality 'caption'"):
        preset_for_modality("caption")


def test_presets_cover_the_search_modalities():
    assert preset_for_modality("tok_depth@224").name == "depth"
    assert preset_for_modality("semseg").name == "semseg"
    assert preset_for_modality("tok_sam_edge@224").name == "edge"
    assert preset_for_modality("sketch").name == "edge"
    assert {p.repo_id.split("/")[0] for p in TOKENIZER_PRESETS.values()} == {"EPFL-VILAB"}


# --- architecture names --------------------------------------------------------------------------
def test_architecture_names():
    assert parse_vit("vit_b_enc", "enc").dim == 768
    assert (parse_vit("vit_l_dec", "dec").depth, parse_vit("vit_l_dec", "dec").heads) == (24, 16)
    tiny = parse_vit("vit_tiny_d48_l3_h4_dec", "dec")
    assert (tiny.dim, tiny.depth, tiny.heads) == (48, 3, 4)
    assert parse_mlp("BottleneckMLP/B_6-Wi_1024").width == 1024
    assert parse_mlp("BottleneckMLP/B_2-Wi_32-Ex_2").expansion == 2


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("vit_b_dec", "enc"),
        ("vit_h_enc", "enc"),
        ("vit_tiny_d30_l1_h4_enc", "enc"),
        ("resnet", "enc"),
    ],
)
def test_unknown_architecture_names_are_refused(name, part):
    with pytest.raises(TokenizerError, match=repr(name)):
        parse_vit(name, part)


def test_unsupported_mlp_name_is_refused():
    with pytest.raises(TokenizerError, match="unsupported MLP type"):
        parse_mlp("MLP/B_2-Wi_32")


# --- bad inputs and tokens -----------------------------------------------------------------------
def test_diffusion_tokenizer_cannot_decode(depth):
    tokens = depth.encode(torch.randn(1, 1, 224, 224))
    with pytest.raises(TokenizerError, match="diffusion"):
        depth.decode(tokens)


def test_tokenizers_encode_other_resolutions(depth, semseg):
    assert depth.encode(torch.randn(1, 1, 64, 96)).shape == (1, 4 * 6)
    assert semseg.encode(torch.zeros(1, 32, 32, dtype=torch.long)).shape == (1, 4)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.randn(2, 512), r"\[B, C\] with C = 768"),
        (torch.randn(2, 768, 2), r"got \(2, 768, 2\)"),
        (torch.ones(2, 768, dtype=torch.long), "float tensor"),
        (torch.full((1, 768), float("nan")), "NaN"),
        ([0.0] * 768, "torch.Tensor"),
    ],
)
def test_global_encode_rejects_bad_input(glob, x, match):
    with pytest.raises(TokenizerInputError, match=match):
        glob.encode(x)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.rand(1, 224, 224), "integer class map"),
        (torch.zeros(1, 1, 224, 224, dtype=torch.long), "integer class map"),
        (torch.full((1, 224, 224), 134), r"\[0, 133\].*got \[134, 134\]"),
        (torch.full((1, 224, 224), -1), "got \\[-1, -1\\]"),
        (torch.zeros(1, 200, 224, dtype=torch.long), "200x224 is not a positive multiple"),
        (torch.zeros(1, 0, 224, dtype=torch.long), "0x224"),
    ],
)
def test_semseg_encode_rejects_bad_input(semseg, x, match):
    with pytest.raises(TokenizerInputError, match=match):
        semseg.encode(x)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.randn(1, 3, 224, 224), r"C = 1"),
        (torch.randn(1, 1, 100, 224), "100x224"),
        (torch.full((1, 1, 224, 224), float("inf")), "infinite"),
    ],
)
def test_depth_encode_rejects_bad_input(depth, x, match):
    with pytest.raises(TokenizerInputError, match=match):
        depth.encode(x)


@pytest.mark.parametrize(
    ("tokens", "match"),
    [
        (torch.full((1, 16), 8192), r"\[0, 8191\]"),
        (torch.zeros(1, 15, dtype=torch.long), r"\[B, 16\]"),
        (torch.zeros(1, 16), "integer tensor"),
    ],
)
def test_global_decode_rejects_bad_tokens(glob, tokens, match):
    with pytest.raises(TokenizerInputError, match=match):
        glob.decode(tokens)


def test_semseg_decode_needs_a_grid_for_non_square_token_counts(semseg):
    tokens = torch.zeros(1, 12, dtype=torch.long)
    with pytest.raises(TokenizerInputError, match="pass grid"):
        semseg.decode(tokens)
    assert semseg.decode(tokens, grid=(3, 4)).shape == (1, 134, 48, 64)


def test_memcodes_cache_follows_new_weights(fourm_fixtures, glob, expected):
    """Keys/values of the codebook are cached; loading other weights must invalidate them."""
    tokens = expected["DINOv2-B14-global.tokens"]
    before = glob.decode(tokens)
    fresh = load_vq_tokenizer(fixture_file(fourm_fixtures, "DINOv2-B14-global"))
    fresh.decode(tokens)  # fill the cache
    with torch.no_grad():
        fresh.quantize.codes.mul_(2.0)  # values are linear in the codes
    changed = fresh.decode(tokens)
    assert not torch.allclose(changed, before)
    with torch.no_grad():
        fresh.quantize.codes.div_(2.0)
    torch.testing.assert_close(fresh.decode(tokens), before)


def test_three_channel_tokenizer_explains_how_to_feed_a_one_channel_map():
    from anyseek.model.fourm.tokenizers import TokenizerConfig, VQTokenizer

    config = TokenizerConfig.from_dict(
        {
            "enc_type": "vit_tiny_d8_l1_h2_enc",
            "dec_type": "unet_patched",
            "n_channels": 3,
            "codebook_size": 16,
            "latent_dim": 4,
            "patch_size": 8,
            "image_size": 32,
        }
    )
    tok = VQTokenizer(config).eval()
    assert tok.encode(torch.randn(1, 3, 32, 32)).shape == (1, 16)
    with pytest.raises(TokenizerInputError, match=r"x\.expand\(-1, 3, -1, -1\)"):
        tok.encode(torch.randn(1, 1, 32, 32))


def test_tokenizer_loaded_and_used_under_inference_mode(fourm_fixtures, expected):
    with torch.inference_mode():
        tok = load_vq_tokenizer(fixture_file(fourm_fixtures, "DINOv2-B14-global"))
        decoded = tok.decode(expected["DINOv2-B14-global.tokens"])
    torch.testing.assert_close(decoded, expected["DINOv2-B14-global.decoded"], atol=1e-4, rtol=1e-4)
    assert torch.equal(tok.encode(torch.zeros(1, 768)), tok.encode(torch.zeros(1, 768)))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"patch_size": "15"}, "not divisible by patch size 15"),
        ({"enc_type": "resnet50"}, "unsupported encoder type 'resnet50'"),
        ({"quant_type": "fsq"}, "unsupported quant_type 'fsq'"),
        ({"num_codebooks": "4"}, "lucid quantiser with 4 codebooks"),
    ],
)
def test_unbuildable_configs_name_the_problem(fourm_fixtures, tmp_path, change, match):
    bad = rewrite_checkpoint(
        fixture_file(fourm_fixtures, "semseg"), tmp_path / "model.safetensors", **change
    )
    with pytest.raises(TokenizerError, match=match):
        load_vq_tokenizer(bad)
