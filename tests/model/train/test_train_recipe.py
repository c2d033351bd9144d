"""Training recipes are JSON files that load into typed configs and refuse typos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anyseek.errors import SettingsError
from model.train.fm_train import FMTrainConfig
from model.train.masking import MaskingConfig
from model.train.pipeline import PipelineConfig
from model.train.recipe import load_recipe, recipe_names


def test_shipped_recipes_load_into_nested_configs() -> None:
    """Every shipped recipe builds; nested sections become their dataclasses, lists tuples."""
    assert {"default", "ci", "gpu"} <= set(recipe_names())
    for name in recipe_names():
        config = load_recipe(name)
        assert isinstance(config, PipelineConfig)
        assert isinstance(config.fm, FMTrainConfig)
        assert isinstance(config.fm.masking, MaskingConfig)
        assert isinstance(config.visual.widths, tuple)
    assert load_recipe("ci").n_train < load_recipe("default").n_train


def test_a_recipe_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    """Keys not in the file keep the dataclass defaults."""
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"n_train": 12, "fm": {"steps": 7, "masking": {"input_budget": 5}}}))
    config = load_recipe(path)
    assert (config.n_train, config.fm.steps, config.fm.masking.input_budget) == (12, 7, 5)
    assert config.fm.dim == FMTrainConfig().dim
    assert config.gallery_seed == PipelineConfig().gallery_seed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"n_trian": 3}, "unknown key.*n_trian"),
        ({"fm": {"masking": {"budget": 1}}}, r"fm\.masking: unknown key.*budget"),
    ],
)
def test_unknown_keys_are_named(tmp_path: Path, content: dict, message: str) -> None:
    """A typo in a recipe is an error naming the key and where it is, never a silent default."""
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(content))
    with pytest.raises(SettingsError, match=message):
        load_recipe(path)


def test_unknown_recipe_name_lists_the_shipped_ones() -> None:
    """A wrong name says which recipes exist."""
    with pytest.raises(SettingsError, match="default"):
        load_recipe("nope")


def test_the_next_device_recipe_fits_the_40_mb_bundle() -> None:
    """gpu_v2 (the device run #17 plans) exports an FM + tokenizers under 40 MB in float16."""
    from model.fourm.network import FourM
    from model.train.global_tokenizers import GlobalVQVAE

    recipe = load_recipe("gpu_v2")
    assert recipe.fm.caption_vocab == "tokenizer" and recipe.bind.modalities
    fm = FourM(recipe.fm.fourm_config(None, recipe.text_vocab))
    tokenizer = GlobalVQVAE(128, recipe.tokenizer)  # both teachers embed to 128 dims
    parameters = sum(p.numel() for p in fm.parameters())
    parameters += 2 * sum(p.numel() for p in tokenizer.parameters())
    assert parameters * 2 < 40e6 - 1e6  # float16, with 1 MB for priors and the text tokenizer
