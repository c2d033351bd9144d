"""The any-to-any model: 4M encoder-decoder, modality registry, tokenizers, data and training."""

from model.tokenizers import TokenizerError, VQTokenizer, load_vq_tokenizer

__all__ = [
    "TokenizerError",
    "VQTokenizer",
    "load_vq_tokenizer",
]
