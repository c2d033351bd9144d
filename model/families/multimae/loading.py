"""``load_multimae``: read an official MultiMAE checkpoint (any layout) and fill the model strictly.

Layouts (see docs/multimae.md):

* released MultiMAE ``.pth``: ``torch.save({'model': state_dict})``, the full pretraining model;
* released timm ``.pth``: ``{'model': ...}`` with the rgb-only ViT under timm names (``cls_token``,
  ``pos_embed``, ``patch_embed.proj``, ``blocks.{i}``), converted back to MultiMAE names here;
* ``.safetensors`` with the config JSON in the ``config`` metadata entry;
* a folder holding one of those (``model.safetensors`` preferred) and optionally ``config.json``.

``.pth`` files are read with ``torch.load(weights_only=True)``: nothing but tensors and plain
containers is unpickled. The config is what the state dict shows, plus a ``config.json`` beside
the file (or the metadata), plus the released ``multimae-b`` head counts when the widths match it.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from anyseek.model.fourm.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_state_dict_strict,
    read_safetensors,
)

from .config import PATCHED, SEMSEG, MultiMAEConfig, MultiMAEConfigError
from .network import MultiMAE

CONFIG_NAME = "config.json"
WEIGHTS_NAMES = ("model.safetensors",)
TIMM_KEYS = ("cls_token", "pos_embed", "patch_embed.proj.weight")
# What the state dict cannot show, as released (multimae-b: 768 wide, decoder 256 wide).
RELEASE_HEADS = {768: 12}
RELEASE_DECODER_HEADS = {256: 8}
TASK_OF = {"norm_rgb": "rgb"}  # output adapters that query another modality's tokens
PATCH_STRIDE = {"rgb": 1, "depth": 1, "normal": 1}
_META_ABOVE = 20_000_000  # elements; above this, skip the random init entirely


def find_weights(source: str | Path) -> Path:
    """The weights file of a file or folder source."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for name in WEIGHTS_NAMES:
            if (path / name).is_file():
                return path / name
        pths = sorted(path.glob("*.pth"))
        if len(pths) == 1:
            return pths[0]
        raise CheckpointError(
            f"{path}: folder holds no model.safetensors and {len(pths)} .pth files (need one)"
        )
    raise CheckpointError(f"MultiMAE checkpoint not found: {source}")


def read_pth(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a released ``.pth`` (``{'model': sd}`` or bare), unpickling no code."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if found:
            raise CheckpointError(
                f"{path}: not a plain state dict: it pickles a {found.group(1)} object; anyseek "
                "reads only tensors and plain containers (torch.load(weights_only=True)) and "
                "never unpickles code"
            ) from None
        reason = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
        detail = reason.group(1).strip() if reason else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({detail})") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({exc})") from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    bad = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if bad:
        raise CheckpointError(
            f"{path}: not a plain state dict (entries that are not tensors: {bad[:8]}); "
            "expected torch.save({'model': state_dict}) as released"
        )
    return dict(obj)


def is_timm_layout(state_dict: dict[str, torch.Tensor]) -> bool:
    """Whether a state dict is the released rgb-only ViT in timm names."""
    return all(k in state_dict for k in TIMM_KEYS)


def timm_to_multimae(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the timm ViT layout back to MultiMAE keys (the inverse of the reference converter).

    ``global_tokens = cls_token + pos_embed[:, 0]``, the rgb table is ``pos_embed[:, 1:]`` as a
    square channels-first grid; unknown keys pass through so the strict check reports them.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key == "cls_token":
            out["global_tokens"] = value + state_dict["pos_embed"][:, :1]
        elif key == "pos_embed":
            table = value[:, 1:]  # [1, n*n, D]
            side = round(table.shape[1] ** 0.5)
            if side * side != table.shape[1]:
                raise CheckpointError(
                    f"timm pos_embed has {table.shape[1]} rows: not a square grid"
                )
            out["input_adapters.rgb.pos_emb"] = table.transpose(1, 2).reshape(1, -1, side, side)
        elif key.startswith("patch_embed.proj."):
            out["input_adapters.rgb.proj." + key.removeprefix("patch_embed.proj.")] = value
        elif key.startswith("blocks."):
            out["encoder." + key.removeprefix("blocks.")] = value
        else:
            out[key] = value
    return out


def _count(state_dict: dict[str, torch.Tensor], pattern: str) -> int:
    """Number of numbered blocks whose keys match ``pattern`` (with one ``(\\d+)`` group)."""
    found = {int(m.group(1)) for k in state_dict if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def _names(state_dict: dict[str, torch.Tensor], prefix: str) -> list[str]:
    """Adapter names under ``prefix`` in state-dict order."""
    seen: dict[str, None] = {}
    for key in state_dict:
        if key.startswith(prefix):
            seen.setdefault(key[len(prefix) :].split(".", 1)[0], None)
    return list(seen)


def derive_config(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Everything the state dict shows, as a fixture-schema dict (no head counts)."""
    if "global_tokens" not in sd or "encoder.0.mlp.fc1.weight" not in sd:
        raise CheckpointError("not a MultiMAE state dict: no global_tokens / encoder.0 tensors")
    _, G, D = sd["global_tokens"].shape
    cfg: dict[str, Any] = {
        "num_global_tokens": G,
        "dim_tokens": D,
        "depth": _count(sd, r"encoder\.(\d+)\."),
        "mlp_ratio": sd["encoder.0.mlp.fc1.weight"].shape[0] / D,
        "qkv_bias": "encoder.0.attn.qkv.bias" in sd,
    }
    inputs, patch, grid = {}, None, None
    for name in _names(sd, "input_adapters."):
        pre = f"input_adapters.{name}."
        kernel = sd[pre + "proj.weight"].shape[-1] if pre + "proj.weight" in sd else None
        grid = grid or tuple(sd[pre + "pos_emb"].shape[2:]) if pre + "pos_emb" in sd else grid
        if pre + "class_emb.weight" in sd:
            classes, width = sd[pre + "class_emb.weight"].shape
            inputs[name] = {
                "class": SEMSEG,
                "num_classes": classes,
                "dim_class_emb": width,
                "_kernel": kernel,
            }
        else:
            channels = sd[pre + "proj.weight"].shape[1] if kernel else 3
            inputs[name] = {"class": PATCHED, "num_channels": channels, "_kernel": kernel}
            if kernel and name in PATCH_STRIDE:
                patch = patch or kernel * PATCH_STRIDE[name]
    if not inputs:
        raise CheckpointError("not a MultiMAE state dict: no input_adapters.* tensors")
    if patch is not None:
        cfg["patch_size"] = patch
        for spec in inputs.values():
            kernel = spec.pop("_kernel")
            if kernel and patch % kernel == 0:
                spec["stride_level"] = patch // kernel
    for spec in inputs.values():
        spec.pop("_kernel", None)
    cfg["input_adapters"] = inputs
    if grid is not None and patch is not None and grid[0] == grid[1]:
        cfg["image_size"] = grid[0] * patch
    outputs = _derive_outputs(sd, inputs, patch)
    if outputs:
        cfg["output_adapters"], cfg["decoder"] = outputs
    return cfg


def _derive_outputs(
    sd: dict[str, torch.Tensor], inputs: dict[str, dict[str, Any]], patch: int | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Output adapters and decoder shape shown by the ``output_adapters.*`` tensors."""
    names = _names(sd, "output_adapters.")
    if not names:
        return None
    first = f"output_adapters.{names[0]}."
    dd = sd[first + "mask_token"].shape[2]
    decoder = {
        "dim_tokens": dd,
        "depth": _count(sd, re.escape(first) + r"decoder_transformer\.(\d+)\."),
        "mlp_ratio": sd[first + "mlp.fc1.weight"].shape[0] / dd,
        "qkv_bias": first + "decoder.q.bias" in sd,
        "context_tasks": _input_order(_names(sd, first + "task_embeddings."), list(inputs)),
    }
    outputs = {}
    for name in names:
        task = TASK_OF.get(name, name)
        spec: dict[str, Any] = {"class": "SpatialOutputAdapter", "task": task}
        stride = inputs.get(task, {}).get("stride_level")
        rows = sd[f"output_adapters.{name}.out_proj.weight"].shape[0]
        if stride is not None and patch is not None:
            p = max(1, patch // stride)
            spec |= {"stride_level": stride, "num_channels": rows // (p * p)}
        outputs[name] = spec
    return outputs, decoder


def _input_order(tasks: list[str], inputs: list[str]) -> list[str]:
    """Context tasks (stored sorted) in input-adapter order, as the reference config lists them."""
    return sorted(tasks, key=lambda t: (inputs.index(t) if t in inputs else len(inputs), t))


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``override`` wins, nested dicts merge key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_config(
    sd: dict[str, torch.Tensor], given: dict[str, Any] | None, where: Path
) -> MultiMAEConfig:
    """Derived config + released head counts (when the widths match) + the given config."""
    try:
        derived = derive_config(sd)
    except KeyError as exc:  # a tensor the architecture is read from is absent
        if not given:
            raise CheckpointError(
                f"{where}: tensor {exc} is missing, so the architecture cannot be read from the "
                "checkpoint (and there is no config.json beside it)"
            ) from None
        derived = {}  # the given config describes the model; the strict check names the gaps
    raw = merge(derived, given or {})
    if "num_heads" not in raw and raw["dim_tokens"] in RELEASE_HEADS:
        raw["num_heads"] = RELEASE_HEADS[raw["dim_tokens"]]
    decoder = raw.get("decoder")
    if decoder and "num_heads" not in decoder and decoder["dim_tokens"] in RELEASE_DECODER_HEADS:
        decoder["num_heads"] = RELEASE_DECODER_HEADS[decoder["dim_tokens"]]
    missing = [] if "num_heads" in raw else ["num_heads"]
    if decoder and "num_heads" not in decoder:
        missing.append("decoder.num_heads")
    for key in ("patch_size", "image_size"):
        if key not in raw:
            missing.append(key)
    for kind in ("input_adapters", "output_adapters"):
        for name, spec in (raw.get(kind) or {}).items():
            for key in ("stride_level", "num_channels") if kind == "output_adapters" else ():
                if key not in spec:
                    missing.append(f"{kind}.{name}.{key}")
    if missing:
        raise CheckpointError(
            f"{where}: the checkpoint does not show {', '.join(missing)} and its widths are not "
            f"those of the released multimae-b; write them in {CONFIG_NAME} beside the file "
            "(schema: docs/multimae.md)"
        )
    try:
        return MultiMAEConfig.from_dict(raw)
    except MultiMAEConfigError as exc:
        raise CheckpointError(f"{where}: invalid MultiMAE config: {exc}") from None


def read_multimae(
    source: str | Path,
) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None, Path]:
    """State dict (MultiMAE names), given config (file or metadata, if any) and weights path."""
    path = find_weights(source)
    given: dict[str, Any] | None = None
    if path.suffix == ".safetensors":
        sd, metadata = read_safetensors(path)
        if "config" in metadata:
            try:
                given = json.loads(metadata["config"])
            except json.JSONDecodeError as exc:
                raise CheckpointError(f"{path}: metadata 'config' is not JSON ({exc})") from None
    else:
        sd = read_pth(path)
    sibling = path.parent / CONFIG_NAME
    if sibling.is_file():
        try:
            given = merge(given or {}, json.loads(sibling.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{sibling}: unreadable config ({exc})") from None
    if is_timm_layout(sd):
        sd = timm_to_multimae(sd)
        if given:  # a timm file is the rgb encoder only, whatever the config beside it lists
            given = {k: v for k, v in given.items() if k not in ("output_adapters", "decoder")}
            given["input_adapters"] = {
                k: v for k, v in (given.get("input_adapters") or {}).items() if k == "rgb"
            }
    return sd, given, path


def load_multimae(
    source: str | Path, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> MultiMAE:
    """Load a MultiMAE in eval mode; every tensor must be used and every parameter filled."""
    sd, given, path = read_multimae(source)
    config = resolve_config(sd, given, path)
    # Large models are built on the meta device (no random init that the file overwrites anyway).
    size = sum(t.numel() for t in sd.values())
    with torch.device("meta" if size > _META_ABOVE else "cpu"):
        model = MultiMAE(config)
    with warnings.catch_warnings():  # the strict check copies into meta tensors: a no-op
        warnings.filterwarnings("ignore", message=".*non-meta parameter.*")
        load_state_dict_strict(model, Checkpoint(state_dict=sd, config=config.to_dict(), path=path))
    model.load_state_dict(sd, assign=True)
    return model.to(device=device, dtype=dtype).eval()


def save_multimae(model: MultiMAE, path: str | Path) -> Path:
    """Write ``model`` as one ``.safetensors`` file with its config JSON in the metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": "anyseek-multimae/1", "config": json.dumps(model.config.to_dict())}
    save_file(tensors, str(path), metadata=metadata)
    return path
