"""MultiMAE (EPFL-VILAB, ECCV 2022): rgb/depth/semseg encoder with cross-attention decoders."""

from anyseek.model.families.multimae.config import MultiMAEConfig, MultiMAEConfigError
from anyseek.model.families.multimae.loading import load_multimae, save_multimae
from anyseek.model.families.multimae.network import MultiMAE, MultiMAEInputError

__all__ = [
    "MultiMAE",
    "MultiMAEConfig",
    "MultiMAEConfigError",
    "MultiMAEInputError",
    "load_multimae",
    "save_multimae",
]
