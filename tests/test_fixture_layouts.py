"""The conformance fixtures: one stored file per checkpoint, and the derived layouts are the ones
the official code writes (hub folders, released and timm ``.pth``), as the index records them."""

from __future__ import annotations

import json

import pytest
import torch
from fixture_layouts import FIXTURES, FOURM_FIXTURES, MULTIMAE_FIXTURES
from safetensors import safe_open
from safetensors.torch import load_file

TOKENIZERS = ("tokenizer_DINOv2-B14-global", "tokenizer_depth_divae", "tokenizer_semseg")


def listing(tensors: dict[str, torch.Tensor]) -> list[list]:
    """[key, shape, dtype] per tensor, in the index's notation."""
    return [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in tensors.items()]


@pytest.fixture(scope="module")
def fourm_index() -> dict:
    return json.loads((FOURM_FIXTURES / "index.json").read_text())


@pytest.fixture(scope="module")
def multimae_index() -> dict:
    return json.loads((MULTIMAE_FIXTURES / "index.json").read_text())


def test_repository_stores_one_file_per_checkpoint():
    stored = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file())
    assert stored == [
        "fourm/README.md",
        "fourm/expected.safetensors",
        "fourm/fm/model.safetensors",
        "fourm/index.json",
        "fourm/inputs.safetensors",
        "fourm/tokenizer_DINOv2-B14-global/model.safetensors",
        "fourm/tokenizer_depth_divae/model.safetensors",
        "fourm/tokenizer_semseg/model.safetensors",
        "multimae/README.md",
        "multimae/checkpoint/model.safetensors",
        "multimae/expected.safetensors",
        "multimae/index.json",
        "multimae/inputs.safetensors",
    ]


def test_stored_checkpoints_hold_the_indexed_tensors(fourm_index, multimae_index):
    for name, entry in fourm_index["files"].items():
        tensors = load_file(FOURM_FIXTURES / name / "model.safetensors")
        assert sorted(listing(tensors)) == sorted(entry["state_dict"]), name
    tensors = load_file(MULTIMAE_FIXTURES / "checkpoint" / "model.safetensors")
    assert sorted(listing(tensors)) == sorted(multimae_index["checkpoints"]["pth"]["state_dict"])


def test_fm_hub_folder_drops_the_encoder_copy_of_shared_modality_embeddings(fourm_fixtures):
    single = load_file(fourm_fixtures / "fm" / "model.safetensors")
    with safe_open(str(fourm_fixtures / "fm" / "hub" / "model.safetensors"), "pt") as hub:
        metadata = hub.metadata()
        kept = {key: hub.get_tensor(key) for key in hub.keys()}  # noqa: SIM118
    both_sides = ("caption", "tok_depth@224", "tok_dinov2_global", "tok_imagebind_global")
    dropped = {f"encoder_embeddings.{m}.mod_emb" for m in both_sides}
    assert set(single) - set(kept) == dropped and set(kept) <= set(single)
    assert metadata == {key: key.replace("encoder_", "decoder_", 1) for key in dropped}
    assert all(torch.equal(value, single[key]) for key, value in kept.items())


def test_hub_configs_are_sorted_json_of_the_metadata_config(fourm_fixtures):
    for name in ("fm", *TOKENIZERS):
        text = (fourm_fixtures / name / "hub" / "config.json").read_text()
        config = json.loads(text)
        assert text == json.dumps(config, sort_keys=True, indent=2), name
        with safe_open(str(fourm_fixtures / name / "model.safetensors"), "pt") as single:
            metadata = single.metadata()
        added = set(config) - set(metadata)
        assert added == ({"masked_cfg_low", "masked_cfg_high"} if "divae" in name else set())
        assert all(str(config[key]) == metadata[key] for key in metadata), name
    depth = json.loads((fourm_fixtures / "tokenizer_depth_divae/hub/config.json").read_text())
    assert (depth["masked_cfg_low"], depth["masked_cfg_high"]) == (0, None)  # DiVAE defaults


def test_tokenizer_hub_weights_are_the_single_file_without_metadata(fourm_fixtures):
    for name in TOKENIZERS:
        single = load_file(fourm_fixtures / name / "model.safetensors")
        with safe_open(str(fourm_fixtures / name / "hub" / "model.safetensors"), "pt") as hub:
            assert hub.metadata() is None, name
            assert sorted(hub.keys()) == sorted(single), name
            assert all(torch.equal(hub.get_tensor(k), v) for k, v in single.items()), name


def test_released_pth_is_the_module_state_dict_under_model(multimae_fixtures, multimae_index):
    entry = multimae_index["checkpoints"]["pth"]
    payload = torch.load(multimae_fixtures / entry["path"], map_location="cpu", weights_only=True)
    assert list(payload) == entry["top_level_keys"] == ["model"]
    state = payload["model"]
    assert listing(state) == entry["state_dict"]  # module order, as Module.state_dict() gives
    modules = state._metadata
    assert modules[""] == {"version": 1}
    assert all(k.rsplit(".", 1)[0] in modules for k in state if "." in k)
    stored = load_file(multimae_fixtures / "checkpoint" / "model.safetensors")
    assert all(torch.equal(value, stored[key]) for key, value in state.items())
    table = state["input_adapters.rgb.pos_emb"]  # (1, D, h, w) viewed on (h, w, D) memory
    assert not table.is_contiguous() and table.stride()[1] == 1


def test_timm_pth_is_the_rgb_encoder_under_timm_names(multimae_fixtures, multimae_index):
    entry = multimae_index["checkpoints"]["timm"]
    payload = torch.load(multimae_fixtures / entry["path"], map_location="cpu", weights_only=True)
    assert list(payload) == entry["top_level_keys"]
    timm = payload["model"]
    assert listing(timm) == entry["state_dict"]
    source = load_file(multimae_fixtures / "checkpoint" / "model.safetensors")
    assert torch.equal(timm["cls_token"], source["global_tokens"])
    assert not timm["pos_embed"][:, 0].any()  # the cls position
    table = source["input_adapters.rgb.pos_emb"]
    assert torch.equal(timm["pos_embed"][0, 1 + 2 * 6 + 5], table[0, :, 2, 5])  # row-major grid
    assert torch.equal(timm["patch_embed.proj.weight"], source["input_adapters.rgb.proj.weight"])
    assert torch.equal(timm["blocks.1.mlp.fc2.bias"], source["encoder.1.mlp.fc2.bias"])


def test_multimae_config_json_is_the_metadata_config_in_construction_order(multimae_fixtures):
    config = json.loads((multimae_fixtures / "checkpoint" / "config.json").read_text())
    with safe_open(str(multimae_fixtures / "checkpoint" / "model.safetensors"), "pt") as handle:
        assert config == json.loads(handle.metadata()["config"])
    assert list(config["input_adapters"]) == ["rgb", "depth", "semseg"]
    assert list(config["output_adapters"]) == ["rgb", "depth", "semseg", "norm_rgb"]


def test_missing_stored_folder_fails_with_a_clear_message(tmp_path, monkeypatch):
    import fixture_layouts

    monkeypatch.setattr(fixture_layouts, "FOURM_FIXTURES", tmp_path / "absent")
    with pytest.raises(pytest.fail.Exception, match="conformance fixtures missing"):
        fixture_layouts.assemble_fourm(tmp_path / "out")
