"""Modality registry, configs and the network's structure (state-dict keys of the fixture FM)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from anyseek.model import FourM, FourMConfig, get_modality
from anyseek.model.fourm.config import CONFIG_DIR, ConfigError
from anyseek.model.fourm.modalities import Kind, UnknownModalityError, known_modalities, modality_id


def test_modality_ids_are_the_reference_hash(fourm_fixtures: Path) -> None:
    """Ids equal MODALITY_INFO[...]['id'] recorded by the reference."""
    index = json.loads((fourm_fixtures / "index.json").read_text())
    for name, expected in index["modality_ids"].items():
        assert modality_id(name) == expected
        assert get_modality(name).id == expected


@pytest.mark.parametrize(
    ("name", "vocab", "tokens"),
    [
        ("tok_depth@224", 8192, 196),
        ("tok_depth@448", 8192, 784),
        ("tok_semseg@224", 4096, 196),
        ("tok_rgb@224", 16384, 196),
        ("tok_dinov2@224", 8192, 256),
        ("tok_dinov2_global", 8192, 16),
        ("tok_imagebind_global", 8192, 16),
        ("tok_clip_global", 8192, 16),
        ("caption", 30000, 256),
        ("metadata", 30000, 40),
    ],
)
def test_vocab_and_token_counts(name: str, vocab: int, tokens: int) -> None:
    """Real vocabulary sizes and token counts, derived from resolution and patch size."""
    spec = get_modality(name)
    assert spec.vocab_size == vocab
    assert spec.num_tokens(224) == tokens


def test_resolution_is_derived_not_mutated() -> None:
    """Asking for @448 leaves the @224 entry untouched; specs are frozen."""
    high = get_modality("rgb@448")
    low = get_modality("rgb@224")
    assert (high.input_size, low.input_size) == (448, 224)
    assert high.num_tokens() == 784 and low.num_tokens() == 196
    with pytest.raises(dataclasses.FrozenInstanceError):
        low.input_size = 512  # type: ignore[misc]


def test_builtin_pixel_modalities() -> None:
    """Our own inputs: 1-channel depth/sketch/edges, 3-channel normals, class-map semseg."""
    assert get_modality("depth@256").num_channels == 1
    assert get_modality("sketch@224").num_channels == 1
    assert get_modality("edges@224").transform == "edges"
    assert get_modality("normal@224").num_channels == 3
    semseg = get_modality("semseg@224")
    assert semseg.kind is Kind.IMAGE and semseg.num_classes == 134


@pytest.mark.parametrize("name", ["rgb", "tok_depth", "nonsense", "caption@224", "rgb@100"])
def test_bad_names(name: str) -> None:
    """Unknown names, missing or superfluous @RES, and resolutions not divisible by the patch."""
    with pytest.raises(UnknownModalityError):
        get_modality(name)


def test_unknown_name_lists_known_ones() -> None:
    """The message helps: it lists what exists."""
    with pytest.raises(UnknownModalityError, match="tok_dinov2_global"):
        get_modality("tok_dinov3_global")
    assert "rgb@224" in known_modalities()


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.json")))
def test_shipped_configs_build(name: str) -> None:
    """Every shipped variant builds (on the meta device: no memory)."""
    with torch.device("meta"):
        model = FourM(FourMConfig.named(name))
    assert model.output_modalities


def test_fourm21_b_transformer_size() -> None:
    """4M-21 B has ~198M parameters in its transformer blocks (embeddings/heads excluded)."""
    with torch.device("meta"):
        model = FourM(FourMConfig.named("fourm21_b"))
    blocks = sum(p.numel() for p in [*model.encoder.parameters(), *model.decoder.parameters()])
    assert 195e6 < blocks < 200e6
    assert len(model.input_modalities) == 19


def test_fixture_state_dict_keys(fourm_fixtures: Path) -> None:
    """A model built from the fixture config has exactly the fixture's keys and shapes."""
    index = json.loads((fourm_fixtures / "index.json").read_text())
    fm = index["files"]["fm"]
    model = FourM(FourMConfig.from_dict(fm["config"]))
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    theirs = {key: shape for key, shape, _dtype in fm["state_dict"]}
    assert ours == theirs


def test_config_errors() -> None:
    """Unknown keys, impossible head counts and non-output modalities are refused."""
    base = {"domains_in": ["rgb@224"], "domains_out": ["tok_dinov2_global"]}
    with pytest.raises(ConfigError, match="unknown FourM config keys: bogus"):
        FourMConfig.from_dict({**base, "bogus": 1})
    with pytest.raises(ConfigError, match="not divisible"):
        FourMConfig.from_dict({**base, "dim": 10, "num_heads": 3})
    with pytest.raises(ConfigError, match="cannot be outputs"):
        FourMConfig.from_dict({**base, "domains_out": ["rgb@224"]})
    with pytest.raises(ConfigError, match="no model config named"):
        FourMConfig.named("fourm99")


def test_transform_keys_are_the_agreed_ones() -> None:
    """``transform`` names a key of model.transforms.TRANSFORMS (checked there when present)."""
    from anyseek.model.fourm.modalities import REGISTRY

    used = {spec.transform for spec in REGISTRY.values()} - {None}
    agreed = {"rgb", "depth", "semseg", "edges", "sketch", "normal", "caption"}
    assert used <= agreed
    try:
        from anyseek.model.transforms import TRANSFORMS
    except ImportError:
        return
    assert used <= set(TRANSFORMS)
