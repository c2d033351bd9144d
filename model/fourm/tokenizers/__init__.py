"""Modality tokenizers of the 4M family: VQ-VAE / DiVAE image tokenizers and the text tokenizer."""

from anyseek.model.fourm.tokenizers.errors import TokenizerError, TokenizerInputError
from anyseek.model.fourm.tokenizers.loading import load_vq_tokenizer, resolve_tokenizer_source
from anyseek.model.fourm.tokenizers.presets import (
    TOKENIZER_PRESETS,
    InputKind,
    TokenizerPreset,
    preset_for_modality,
)
from anyseek.model.fourm.tokenizers.vqvae import TokenizerConfig, VQTokenizer

__all__ = [
    "TOKENIZER_PRESETS",
    "InputKind",
    "TokenizerConfig",
    "TokenizerError",
    "TokenizerInputError",
    "TokenizerPreset",
    "VQTokenizer",
    "load_vq_tokenizer",
    "preset_for_modality",
    "resolve_tokenizer_source",
]
