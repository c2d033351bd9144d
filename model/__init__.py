"""The any-to-any model: 4M encoder-decoder, modality registry, tokenizers, data and training."""

from model.batch import ModalityTokens
from model.config import FourMConfig
from model.fourm import FourM
from model.loading import load_fourm, save_fourm
from model.modalities import ModalitySpec, get_modality
from model.multimae import MultiMAE, load_multimae
from model.predict import VectorDecoder, predict_embeddings, predict_logits, predict_tokens
from model.sampling import GenerationTarget, generate
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
