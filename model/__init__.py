"""The any-to-any model: 4M encoder-decoder, modality registry, tokenizers, data and training."""

from model.tokenizers import TokenizerError, VQTokenizer, load_vq_tokenizer
from model.tokenizers.text import TextTokenizer, load_text_tokenizer
from model.transforms import TRANSFORMS, UserInputError, transform_for

__all__ = [
    "TRANSFORMS",
    "TextTokenizer",
    "TokenizerError",
    "UserInputError",
    "VQTokenizer",
    "load_text_tokenizer",
    "load_vq_tokenizer",
    "transform_for",
]
