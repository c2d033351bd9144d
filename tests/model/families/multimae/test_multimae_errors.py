"""Bad MultiMAE checkpoints and inputs give one clear error naming the problem."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
import torch

from anyseek.model.families.multimae import (
    MultiMAE,
    MultiMAEConfig,
    MultiMAEInputError,
    load_multimae,
)
from anyseek.model.families.multimae.config import MultiMAEConfigError
from anyseek.model.families.multimae.loading import resolve_config
from anyseek.model.fourm.checkpoint import CheckpointError

PTH = "multimae-tiny-dev_multivit-a518ea13.pth"


@pytest.fixture(scope="module")
def state_dict(multimae_fixtures: Path) -> dict[str, torch.Tensor]:
    path = multimae_fixtures / "checkpoint" / PTH
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


@pytest.fixture(scope="module")
def config_json(multimae_fixtures: Path) -> dict:
    return json.loads((multimae_fixtures / "checkpoint" / "config.json").read_text())


@pytest.fixture(scope="module")
def tiny() -> MultiMAE:
    torch.manual_seed(0)
    return MultiMAE(MultiMAEConfig.named("test_multimae_tiny")).eval()


def _write(folder: Path, payload, config: dict | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(payload, folder / "ckpt.pth")
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder / "ckpt.pth"


@pytest.mark.parametrize(
    "key",
    [
        "encoder.1.mlp.fc2.bias",
        "output_adapters.depth.out_proj.weight",
        "output_adapters.rgb.mask_token",
        "input_adapters.semseg.class_emb.weight",
    ],
)
def test_missing_tensor_is_named(tmp_path, state_dict, config_json, key):
    sd = dict(state_dict)
    del sd[key]
    with pytest.raises(CheckpointError, match="missing: " + key.replace(".", r"\.")):
        load_multimae(_write(tmp_path, {"model": sd}, config_json))


def test_missing_tensor_without_config_is_named(tmp_path, state_dict):
    sd = dict(state_dict)
    del sd["output_adapters.rgb.mask_token"]
    with pytest.raises(CheckpointError, match=r"output_adapters\.rgb\.mask_token' is missing"):
        load_multimae(_write(tmp_path, {"model": sd}, None))


def test_unexpected_tensor_is_named(tmp_path, state_dict, config_json):
    sd = dict(state_dict) | {"encoder.0.attn.extra_scale": torch.ones(1)}
    with pytest.raises(CheckpointError, match=r"unexpected: encoder\.0\.attn\.extra_scale"):
        load_multimae(_write(tmp_path, {"model": sd}, config_json))


def test_config_disagreeing_with_tensors_names_the_shapes(tmp_path, state_dict, config_json):
    config = json.loads(json.dumps(config_json))
    config["input_adapters"]["semseg"]["num_classes"] = 14
    with pytest.raises(CheckpointError, match=r"shape mismatch: input_adapters\.semseg\.class_emb"):
        load_multimae(_write(tmp_path, {"model": state_dict}, config))


def test_pickled_objects_are_refused(tmp_path, state_dict, config_json):
    payload = {"model": state_dict, "args": argparse.Namespace(lr=1e-4)}
    with pytest.raises(CheckpointError, match="not a plain state dict"):
        load_multimae(_write(tmp_path, payload, config_json))


def test_non_tensor_entries_are_refused(tmp_path, config_json):
    with pytest.raises(CheckpointError, match="not a plain state dict"):
        load_multimae(_write(tmp_path, {"model": {"global_tokens": [1.0, 2.0]}}, config_json))
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_multimae(_write(tmp_path / "list", [torch.zeros(1)], config_json))


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_multimae(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_multimae(tmp_path / "absent.pth")
    with pytest.raises(CheckpointError, match="not a MultiMAE state dict"):
        load_multimae(_write(tmp_path / "other", {"model": {"w": torch.zeros(2)}}, None))


def test_without_config_the_missing_head_counts_are_named(tmp_path, multimae_fixtures):
    shutil.copy(multimae_fixtures / "checkpoint" / PTH, tmp_path / PTH)
    with pytest.raises(CheckpointError, match=r"num_heads, decoder\.num_heads") as err:
        load_multimae(tmp_path / PTH)
    assert "config.json" in str(err.value)


def test_partial_config_with_head_counts_is_enough(tmp_path, multimae_fixtures, config_json):
    """Everything else is derived from the tensors and equals the fixture's full config."""
    shutil.copy(multimae_fixtures / "checkpoint" / PTH, tmp_path / PTH)
    (tmp_path / "config.json").write_text(json.dumps({"num_heads": 3, "decoder": {"num_heads": 2}}))
    assert load_multimae(tmp_path / PTH).config.to_dict() == config_json


def test_release_head_counts_apply_at_release_widths():
    """multimae-b shaped tensors without config.json get the release's 12 / 8 heads."""
    config = MultiMAEConfig.named("multimae_b")
    with torch.device("meta"):  # shapes only: no 400 MB of random weights
        sd = MultiMAE(config).state_dict()
    assert resolve_config(sd, None, Path("release.pth")) == config
    assert config.num_heads == 12 and config.decoder.num_heads == 8


def test_semseg_ids_beyond_the_class_count(tiny):
    ids = torch.zeros(1, 24, 24, dtype=torch.int64)
    ids[0, 3, 4] = 13
    with pytest.raises(MultiMAEInputError, match=r"class ids \[13\] outside 0\.\.12"):
        tiny.encode({"semseg": ids})
    with pytest.raises(MultiMAEInputError, match=r"class ids \[-1\]"):
        tiny.encode({"semseg": ids.clamp(max=0) - 1})
    with pytest.raises(MultiMAEInputError, match="must be integers"):
        tiny.encode({"semseg": ids.float()})


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ({"rgb": torch.zeros(1, 3, 90, 96)}, "90x96 is not a .*multiple of the patch size 16"),
        ({"depth": torch.zeros(1, 1, 96, 100)}, "96x100 is not a .*multiple of the patch size 16"),
        ({"semseg": torch.zeros(1, 23, 24, dtype=torch.int64)}, "92x96 is not a"),
        ({"rgb": torch.zeros(1, 3, 96, 96), "depth": torch.zeros(1, 1, 64, 64)}, "depth: expected"),
        ({"rgb": torch.zeros(1, 1, 96, 96)}, r"rgb: expected shape \(1, 3, 96, 96\)"),
        ({"normal": torch.zeros(1, 3, 96, 96)}, "unknown input modality 'normal'"),
        ({}, "no input"),
        ({"rgb": torch.zeros(96, 96)}, r"rgb: expected a batched tensor, got shape \(96, 96\)"),
    ],
)
def test_bad_inputs(tiny, inputs, match):
    with pytest.raises(MultiMAEInputError, match=match):
        tiny.encode(inputs)


def test_bad_visibility(tiny):
    rgb = torch.zeros(2, 3, 96, 96)
    with pytest.raises(MultiMAEInputError, match=r"visible\['rgb'\]: expected shape \(2, 36\)"):
        tiny.reconstruct({"rgb": rgb}, {"rgb": torch.ones(2, 35, dtype=torch.bool)})
    with pytest.raises(MultiMAEInputError, match="not inputs"):
        tiny.reconstruct({"rgb": rgb}, {"depth": torch.ones(2, 36, dtype=torch.bool)})
    with pytest.raises(MultiMAEInputError, match="unknown outputs"):
        tiny.reconstruct({"rgb": rgb}, outputs=("normal",))


def test_bad_configs():
    with pytest.raises(MultiMAEConfigError, match="unknown MultiMAE variant"):
        MultiMAEConfig.named("multimae_zz")
    raw = MultiMAEConfig.named("test_multimae_tiny").to_dict()
    with pytest.raises(MultiMAEConfigError, match="not divisible by num_heads"):
        MultiMAEConfig.from_dict(raw | {"num_heads": 5})
    raw["input_adapters"]["semseg"]["emb_padding_idx"] = 13
    with pytest.raises(MultiMAEConfigError, match="emb_padding_idx"):
        MultiMAEConfig.from_dict(raw)
