"""What a reconstructing model (MultiMAE) sees in a query's image: depth and segmentation PNGs."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import torch

from anyseek.errors import AnyseekError
from anyseek.model.service import ReconstructingModel, SearchModel

IMAGE_PART = "image"  # the query modality reconstructed
EXPLAIN_SIZE = 128  # px, square: small enough for an explain response


def explain_reconstructions(
    model: SearchModel, inputs: Mapping[str, torch.Tensor], size: int = EXPLAIN_SIZE
) -> dict[str, str] | None:
    """{"depth": base64 PNG, "semseg": base64 PNG} of the query's image part, or None when the
    query has no image or the model cannot reconstruct (not MultiMAE, or no output adapters)."""
    image = inputs.get(IMAGE_PART)
    if image is None or not isinstance(model, ReconstructingModel):
        return None
    try:
        [found] = model.reconstruction_pngs(image.unsqueeze(0), size)
    except AnyseekError:
        return None
    return {kind: base64.b64encode(data).decode("ascii") for kind, data in found.items()}
