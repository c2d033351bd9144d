"""Space priors as bytes: what a collection stores next to its model version (safetensors)."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from anyseek.model.families.interface import ModelError


def priors_to_bytes(priors: Mapping[str, Tensor]) -> bytes:
    """{space: [N, V]} -> safetensors bytes (float32), to store with a collection."""
    from safetensors.torch import save

    return save({name: p.detach().float().cpu().contiguous() for name, p in priors.items()})


def priors_from_bytes(data: bytes) -> dict[str, Tensor]:
    """Bytes written by :func:`priors_to_bytes` -> {space: [N, V]} float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        return {name: p.float() for name, p in load(bytes(data)).items()}
    except (SafetensorError, ValueError, OSError) as exc:
        raise ModelError(f"stored priors are unreadable ({exc})") from None
