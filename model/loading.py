"""``load_fourm``: build a FourM from an official-format checkpoint and fill it strictly."""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_state_dict_strict, read_checkpoint
from .config import ConfigError, FourMConfig
from .fourm import FourM
from .modalities import UnknownModalityError


def load_fourm(
    source: str | Path, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> FourM:
    """Load a 4M model in eval mode from a .safetensors file, a folder, or a HF repo id.

    Every tensor of the file must be used and every parameter filled, otherwise the error lists
    the missing, unexpected and mis-shaped keys.
    """
    checkpoint = read_checkpoint(source)
    try:
        config = FourMConfig.from_dict(checkpoint.config)
    except (ConfigError, UnknownModalityError, TypeError) as exc:
        raise CheckpointError(f"{checkpoint.path}: invalid FourM config: {exc}") from None
    with torch.device("cpu"):
        model = FourM(config)
    load_state_dict_strict(model, checkpoint)
    return model.to(device=device, dtype=dtype).eval()
