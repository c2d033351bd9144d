"""The conformance fixtures: where the stored copy lives, and the other checkpoint layouts built
from it for the tests (see tests/fixtures/*/README.md).

The repository keeps one file per checkpoint. The layouts the official code also writes, and that
the loaders must read, are derived here into a temporary folder once per test session:

* 4M: the ``save_pretrained`` hub folder (``config.json`` + de-duplicated ``model.safetensors``)
  of the FM and of each tokenizer, from the single file with the config in its metadata;
* MultiMAE: ``config.json`` (from the index), the released ``.pth`` (``{'model': state_dict}``)
  and the timm ``.pth`` the reference converter writes, from ``model.safetensors``.
"""

from __future__ import annotations

import ast
import json
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import torch

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FOURM_FIXTURES = FIXTURES / "fourm"
MULTIMAE_FIXTURES = FIXTURES / "multimae"
TEXT_TOKENIZER_NAME = "text_tokenizer_4m_wordpiece_30k.json"

# huggingface_hub's PyTorchModelHubMixin writes the jsonable defaults of the class's own __init__
# under the config it was given; these are the reference DiVAE / VQVAE signature defaults.
SIGNATURE_DEFAULTS: dict[str, dict[str, Any]] = {
    "VQVAE": {
        "dec_type": "vit_b_dec",
        "out_conv": False,
        "image_size_dec": None,
        "patch_size_dec": None,
    },
    "DiVAE": {
        "dec_type": "unet_patched",
        "num_train_timesteps": 1000,
        "cls_free_guidance_dropout": 0.0,
        "masked_cfg": False,
        "masked_cfg_low": 0,
        "masked_cfg_high": None,
        "scheduler": "ddpm",
        "beta_schedule": "squaredcos_cap_v2",
        "prediction_type": "v_prediction",
        "clip_sample": False,
        "thresholding": True,
        "conditioning": "concat",
        "dec_transformer_dropout": 0.2,
        "zero_terminal_snr": True,
        "image_size_dec": None,
    },
}


def metadata_value(text: str) -> Any:
    """One ``__metadata__`` value of a single file as Python: a literal if it parses, else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        return text  # bare strings such as SiLU or batch_random


def shared_tensors(model_class: str, config: dict[str, Any]) -> dict[str, str]:
    """Key -> key of the tensors one module shares: the FM's input/output modality embeddings."""
    if model_class != "FM" or not config.get("share_modality_embeddings", True):
        return {}
    return {
        f"encoder_embeddings.{mod}.mod_emb": f"decoder_embeddings.{mod}.mod_emb"
        for mod in config["domains_in"]
        if mod in config["domains_out"]
    }


def write_hub_folder(single_file: Path, folder: Path, model_class: str) -> Path:
    """Write what ``save_pretrained`` writes for the checkpoint stored as ``single_file``."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_model

    with safe_open(str(single_file), framework="pt") as handle:
        metadata = handle.metadata() or {}
    config = SIGNATURE_DEFAULTS.get(model_class, {}) | {
        key: metadata_value(value) for key, value in metadata.items()
    }
    tensors = load_file(str(single_file))
    for alias, kept in shared_tensors(model_class, config).items():
        if not torch.equal(tensors[alias], tensors[kept]):
            raise ValueError(f"{single_file}: {alias} and {kept} should hold the same tensor")
        tensors[alias] = tensors[kept]  # one tensor under two names, as in the built module
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, sort_keys=True, indent=2))
    # save_model drops all but one name of each shared tensor and records dropped -> kept.
    save_model(_StateDictOnly(tensors), str(folder / "model.safetensors"))
    return folder


class _StateDictOnly:
    """Stands in for a built module: ``save_model`` only asks it for its state dict."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.tensors = tensors

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors, shared ones included under every name."""
        return dict(self.tensors)


def as_released(key: str, tensor: torch.Tensor) -> torch.Tensor:
    """The tensor with the strides of the release: the reference builds each sin-cos table as
    (h, w, D) memory and views it channels-first without a copy, so the ``.pth`` keeps them."""
    if key.endswith("pos_emb") and tensor.dim() == 4:
        return tensor[0].permute(1, 2, 0).contiguous().permute(2, 0, 1).unsqueeze(0)
    return tensor


def module_versions(keys: list[str]) -> OrderedDict[str, dict[str, int]]:
    """The ``_metadata`` table of ``Module.state_dict()`` for every module owning a tensor."""
    table: OrderedDict[str, dict[str, int]] = OrderedDict()
    for key in keys:
        parts = key.split(".")[:-1]
        for depth in range(len(parts) + 1):
            table.setdefault(".".join(parts[:depth]), {"version": 1})
    return table


def multivit_state_dict(weights: Path, listing: list[list[Any]]) -> OrderedDict[str, torch.Tensor]:
    """The MultiMAE state dict in module order (``listing`` is the index's [key, shape, dtype])."""
    from safetensors.torch import load_file

    tensors = load_file(str(weights))
    order = [key for key, _, _ in listing]
    if sorted(order) != sorted(tensors):
        raise ValueError(f"{weights}: keys differ from the index listing")
    state = OrderedDict((key, as_released(key, tensors[key])) for key in order)
    state._metadata = module_versions(order)  # type: ignore[attr-defined]
    return state


def multimae_to_timm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The rgb-only ViT under timm names, as the reference ``multimae2vit_converter`` makes it."""
    import torch.nn.functional as F

    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key == "global_tokens":
            out["cls_token"] = value
        elif key == "input_adapters.rgb.pos_emb":
            rows = value.flatten(2).transpose(1, 2)  # (1, D, h, w) -> (1, h*w, D), row-major
            out["pos_embed"] = F.pad(rows, (0, 0, 1, 0))  # one zero row for the cls position
        elif key.startswith("input_adapters.rgb.proj."):
            out[key.replace("input_adapters.rgb.proj.", "patch_embed.proj.")] = value
        elif "encoder" in key:
            out[key.replace("encoder", "blocks")] = value
    return out


def _link_stored_files(source: Path, target: Path) -> None:
    """Link every stored data file of ``source`` into ``target`` at the same relative path."""
    for path in sorted(source.rglob("*")):
        if path.is_file() and path.name != "README.md":
            link = target / path.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)


def require_stored(folder: Path) -> None:
    """Fail with a clear message when a stored fixture folder is missing from the checkout."""
    if not (folder / "index.json").is_file():
        pytest.fail(
            f"conformance fixtures missing: {folder} (they are part of the repository; "
            "restore them with `git checkout -- tests/fixtures`)"
        )


def assemble_fourm(target: Path) -> Path:
    """The 4M fixture set with every layout: stored files, hub folders, the WordPiece file."""
    from anyseek.model.fourm.tokenizers.text import DEFAULT_WORDPIECE

    require_stored(FOURM_FIXTURES)
    _link_stored_files(FOURM_FIXTURES, target)
    # the official tokenizer file is the one the package ships (same bytes), not a second copy
    (target / TEXT_TOKENIZER_NAME).symlink_to(DEFAULT_WORDPIECE)
    index = json.loads((FOURM_FIXTURES / "index.json").read_text())
    for name, entry in index["files"].items():
        write_hub_folder(target / name / "model.safetensors", target / name / "hub", entry["class"])
    return target


def assemble_multimae(target: Path) -> Path:
    """The MultiMAE fixture set with every layout: safetensors, config.json, both ``.pth``."""
    import torch

    require_stored(MULTIMAE_FIXTURES)
    _link_stored_files(MULTIMAE_FIXTURES, target)
    index = json.loads((MULTIMAE_FIXTURES / "index.json").read_text())
    files = index["checkpoints"]
    (target / files["config"]["path"]).write_text(json.dumps(index["config"], indent=2) + "\n")
    state = multivit_state_dict(target / files["safetensors"]["path"], files["pth"]["state_dict"])
    torch.save({"model": state}, target / files["pth"]["path"])
    torch.save({"model": multimae_to_timm(state)}, target / files["timm"]["path"])
    return target
