"""The any-to-any model: 4M encoder-decoder, modality registry, tokenizers, data and training."""

from model.batch import ModalityTokens
from model.config import FourMConfig
from model.fourm import FourM
from model.loading import load_fourm
from model.modalities import ModalitySpec, get_modality
from model.predict import VectorDecoder
from model.sampling import GenerationTarget
from model.tokenizers import TokenizerError, VQTokenizer, load_vq_tokenizer
from model.tokenizers.text import TextTokenizer, load_text_tokenizer
from model.transforms import TRANSFORMS, InputError, transform_for

__all__ = [
    "FourM",
    "FourMConfig",
    "GenerationTarget",
    "ModalitySpec",
    "ModalityTokens",
    "TRANSFORMS",
    "InputError",
    "TextTokenizer",
    "TokenizerError",
    "VQTokenizer",
    "VectorDecoder",
    "get_modality",
    "load_fourm",
    "load_text_tokenizer",
    "load_vq_tokenizer",
    "transform_for",
]
