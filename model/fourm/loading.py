"""``load_fourm``: build a FourM from an official-format checkpoint and fill it strictly."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from anyseek.model.fourm.checkpoint import CheckpointError, load_state_dict_strict, read_checkpoint
from anyseek.model.fourm.config import ConfigError, FourMConfig
from anyseek.model.fourm.modalities import UnknownModalityError
from anyseek.model.fourm.network import FourM

_META_ABOVE = 50_000_000  # elements; above this, skip the random init entirely


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
    # Large models are built on the meta device (no random init of billions of weights that the
    # file overwrites anyway); small ones on the CPU, which avoids meta's one-off import cost.
    size = sum(t.numel() for t in checkpoint.state_dict.values())
    with torch.device("meta" if size > _META_ABOVE else "cpu"):
        model = FourM(config)
    with warnings.catch_warnings():  # the strict check copies into meta tensors: a no-op
        warnings.filterwarnings("ignore", message=".*non-meta parameter.*")
        load_state_dict_strict(model, checkpoint)
    model.load_state_dict(checkpoint.state_dict, assign=True)
    model.tie_modality_embeddings()
    return model.to(device=device, dtype=dtype).eval()


def save_fourm(model: FourM, path: str | Path) -> Path:
    """Write ``model`` as one official-format .safetensors file (config in the metadata).

    Every state-dict key is stored as its own tensor (shared ``mod_emb`` included) and each config
    value as ``str(value)``, exactly like the released manual-download checkpoints, so the file
    loads with ``load_fourm`` and with the reference reader.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in model.state_dict().items()}
    metadata = {k: str(v) for k, v in model.config.to_dict().items()}
    save_file(tensors, str(path), metadata=metadata)
    return path
