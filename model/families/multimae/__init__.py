"""MultiMAE (EPFL-VILAB, ECCV 2022): rgb/depth/semseg encoder with cross-attention decoders."""

from model.families.multimae.config import MultiMAEConfig, MultiMAEConfigError
from model.families.multimae.loading import load_multimae, save_multimae
from model.families.multimae.network import MultiMAE, MultiMAEInputError

__all__ = [
    "MultiMAE",
    "MultiMAEConfig",
    "MultiMAEConfigError",
    "MultiMAEInputError",
    "load_multimae",
    "save_multimae",
]
