"""The any-to-any model: 4M encoder-decoder, modality registry, tokenizers, data and training."""

from .batch import ModalityTokens  # noqa: F401
from .config import FourMConfig  # noqa: F401
from .fourm import FourM  # noqa: F401
from .loading import load_fourm  # noqa: F401
from .modalities import ModalitySpec, get_modality  # noqa: F401
from .predict import VectorDecoder  # noqa: F401
from .sampling import GenerationTarget  # noqa: F401
