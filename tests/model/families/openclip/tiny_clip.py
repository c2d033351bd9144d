"""Tiny open_clip models the open_clip tests make themselves (random weights, saved as open_clip
saves them), so every source form loads offline. Skipped where open_clip cannot import (``make
test``'s CPU-only venv: open-clip-torch needs torchvision, whose PyPI wheels need PyPI's CUDA
torch); ``make test-clip`` runs them in .venv-clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from clip_extra import open_clip_installed

SKIP = "open-clip-torch is not importable here (the clip extra: `make test-clip` runs these)"


def need_open_clip():
    """open_clip, or the module skipped with the reason (each test module calls it first)."""
    if not open_clip_installed():
        pytest.skip(SKIP, allow_module_level=True)
    import open_clip

    return open_clip


TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
# not open_clip's defaults, so a source whose preprocessing is not the model's own shows
PREPROCESS = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3], "interpolation": "bilinear"}
ARCH = "anyseek-tiny-test"


def save_model(folder: Path, seed: int, config: dict | None = None) -> Path:
    """A random tiny open_clip model as a folder: open_clip_config.json + safetensors."""
    import open_clip
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    body = {"model_cfg": config or TINY, "preprocess_cfg": PREPROCESS}
    (folder / "open_clip_config.json").write_text(json.dumps(body))
    torch.manual_seed(seed)
    model = open_clip.create_model(f"local-dir:{folder}", load_weights=False)
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(weights, folder / "open_clip_model.safetensors")
    return folder
