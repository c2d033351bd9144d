"""The any-to-any model: 4M encoder-decoder, modality registry, tokenizers, data and training."""

from model.families.multimae import MultiMAE, load_multimae
from model.fourm.batch import ModalityTokens
from model.fourm.config import FourMConfig
from model.fourm.loading import load_fourm, save_fourm
from model.fourm.modalities import ModalitySpec, get_modality
from model.fourm.network import FourM
from model.inference.predict import (
    VectorDecoder,
    predict_embeddings,
    predict_logits,
    predict_tokens,
)
from model.inference.sampling import GenerationTarget, generate
from model.tokenizers import TokenizerError, VQTokenizer, load_vq_tokenizer
from model.tokenizers.text import TextTokenizer, load_text_tokenizer
from model.transforms import TRANSFORMS, UserInputError, transform_for

__all__ = [
    "TRANSFORMS",
    "FourM",
    "FourMConfig",
    "GenerationTarget",
    "ModalitySpec",
    "ModalityTokens",
    "MultiMAE",
    "TextTokenizer",
    "TokenizerError",
    "UserInputError",
    "VQTokenizer",
    "VectorDecoder",
    "generate",
    "get_modality",
    "load_fourm",
    "load_multimae",
    "load_text_tokenizer",
    "load_vq_tokenizer",
    "predict_embeddings",
    "predict_logits",
    "predict_tokens",
    "save_fourm",
    "transform_for",
]
