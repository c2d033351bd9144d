"""Read official-format 4M checkpoints: a single safetensors file, a hub folder, or a HF repo id.

Every loader (the FM, the VQ tokenizers) goes through :func:`read_checkpoint`, which returns the raw
tensors and the config; building the module and strict key matching are the caller's job.

Formats (see the conformance fixtures' README):

* single file ``model.safetensors`` whose ``__metadata__`` maps each config key to ``str(value)``;
  values are parsed like the reference reader does (YAML after ``None`` -> ``null``);
* hub folder ``config.json`` + ``model.safetensors`` written by ``save_pretrained``: the weights may
  drop duplicate names of shared tensors and record ``dropped -> kept`` in ``__metadata__``; those
  aliases are filled back in here so that callers always see the complete state dict;
* ``owner/name`` repo id, fetched with huggingface-hub (or found in its local cache).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from anyseek.errors import AnyseekError

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
_LONG_VALUE = 10_000  # the reference keeps longer metadata values as plain strings
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class CheckpointError(AnyseekError):
    """A checkpoint is missing, unreadable, or does not match the model built from its config."""


@dataclass
class Checkpoint:
    """Tensors and config read from one checkpoint, with where they came from."""

    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any]
    path: Path
    aliases: dict[str, str] = field(default_factory=dict)  # filled key -> key it was copied from


def parse_metadata_value(text: str) -> Any:
    """Turn one ``__metadata__`` string back into a Python value, as the reference reader does."""
    if len(text) > _LONG_VALUE:
        return text
    try:
        return yaml.safe_load(text.replace("None", "null"))
    except yaml.YAMLError:
        return text


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load tensors and raw metadata from a safetensors file, with a clear error if corrupt."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    return tensors, metadata


def _fill_aliases(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> dict[str, str]:
    """Restore tensors that ``save_model`` de-duplicated; metadata maps dropped -> kept key."""
    aliases = {
        dropped: kept
        for dropped, kept in metadata.items()
        if dropped not in tensors and kept in tensors
    }
    for dropped, kept in aliases.items():
        tensors[dropped] = tensors[kept]
    return aliases


def resolve_source(source: str | Path) -> tuple[Path, Path | None]:
    """Find the weights file (and config.json if any) for a file, folder or repo id."""
    path = Path(source).expanduser()
    if path.is_file():
        sibling = path.parent / CONFIG_NAME
        return path, sibling if sibling.is_file() else None
    if path.is_dir():
        weights = path / WEIGHTS_NAME
        if not weights.is_file():
            raise CheckpointError(f"{path}: folder has no {WEIGHTS_NAME}")
        config = path / CONFIG_NAME
        return weights, config if config.is_file() else None
    if isinstance(source, str) and _REPO_ID.match(source) and not path.suffix:
        return _download(source)
    raise CheckpointError(
        f"checkpoint not found: {source} (expected a .safetensors file, "
        "a folder with config.json + model.safetensors, or a repo id)"
    )


def _download(repo_id: str) -> tuple[Path, Path | None]:
    """Fetch a checkpoint from the Hugging Face hub, or explain where to put it when offline."""
    from huggingface_hub import hf_hub_download

    try:
        weights = Path(hf_hub_download(repo_id, WEIGHTS_NAME))
    except Exception as exc:  # network, auth or missing repo: all mean "not available here"
        raise CheckpointError(
            f"could not fetch {repo_id!r} from the Hugging Face hub ({type(exc).__name__}). "
            f"Offline, download it elsewhere and point anyseek at a local folder holding "
            f"{CONFIG_NAME} and {WEIGHTS_NAME} (e.g. ANYSEEK_MODEL__SOURCE=/models/{repo_id})"
        ) from None
    try:
        config = Path(hf_hub_download(repo_id, CONFIG_NAME))
    except Exception:
        config = None
    return weights, config


def read_checkpoint(source: str | Path) -> Checkpoint:
    """Read tensors and config from any supported source; config.json wins over metadata."""
    weights, config_file = resolve_source(source)
    tensors, metadata = read_safetensors(weights)
    if config_file is not None:
        try:
            config = json.loads(config_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{config_file}: unreadable config ({exc})") from None
    else:
        config = {k: parse_metadata_value(v) for k, v in metadata.items() if k not in tensors}
        if not config:
            raise CheckpointError(
                f"{weights}: no config in the safetensors metadata and no {CONFIG_NAME} beside it"
            )
    aliases = _fill_aliases(tensors, metadata)
    return Checkpoint(state_dict=tensors, config=config, path=weights, aliases=aliases)


def load_state_dict_strict(
    module: torch.nn.Module, checkpoint: Checkpoint, *, ignore_missing: tuple[str, ...] = ()
) -> None:
    """Copy every tensor into ``module``; fail listing missing, unexpected or mis-shaped keys."""
    expected = module.state_dict()
    missing = sorted(
        k
        for k in expected
        if k not in checkpoint.state_dict and not k.endswith(ignore_missing or ("\0",))
    )
    unexpected = sorted(k for k in checkpoint.state_dict if k not in expected)
    mismatched = sorted(
        f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in checkpoint.state_dict.items()
        if k in expected and v.shape != expected[k].shape
    )
    if missing or unexpected or mismatched:
        parts = [f"{checkpoint.path}: checkpoint does not match the model built from its config"]
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", mismatched),
        ):
            if keys:
                shown = ", ".join(keys[:8]) + (f" (+{len(keys) - 8} more)" if len(keys) > 8 else "")
                parts.append(f"{label}: {shown}")
        raise CheckpointError("; ".join(parts))
    module.load_state_dict(checkpoint.state_dict, strict=False)
