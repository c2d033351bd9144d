"""The any-to-any models, in the rooms import-linter's contracts name, top to bottom: the
interface the layers above use (``service``, and ``queries``: the query modalities), one adapter
per model family (``families``), the built-in network (``builtin``), what a bundle declares
(``bundle``), input transforms (``transforms``), the 4M reimplementation (``fourm``), CPU helpers
(``runtime``) and the words and classes (``vocabulary``).

The library API below is imported on first use (``from anyseek.model import load_fourm``), so
importing a light part of the package (``anyseek.model.queries``, read by the command line at
start-up) does not pay for PyTorch and the network.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it
_EXPORTS = {
    "MultiMAE": "anyseek.model.families.multimae",
    "load_multimae": "anyseek.model.families.multimae",
    "ModalityTokens": "anyseek.model.fourm.batch",
    "FourMConfig": "anyseek.model.fourm.config",
    "load_fourm": "anyseek.model.fourm.loading",
    "save_fourm": "anyseek.model.fourm.loading",
    "ModalitySpec": "anyseek.model.fourm.modalities",
    "get_modality": "anyseek.model.fourm.modalities",
    "FourM": "anyseek.model.fourm.network",
    "VectorDecoder": "anyseek.model.fourm.inference.predict",
    "predict_embeddings": "anyseek.model.fourm.inference.predict",
    "predict_logits": "anyseek.model.fourm.inference.predict",
    "predict_tokens": "anyseek.model.fourm.inference.predict",
    "GenerationTarget": "anyseek.model.fourm.inference.sampling",
    "generate": "anyseek.model.fourm.inference.sampling",
    "TokenizerError": "anyseek.model.fourm.tokenizers",
    "VQTokenizer": "anyseek.model.fourm.tokenizers",
    "load_vq_tokenizer": "anyseek.model.fourm.tokenizers",
    "TextTokenizer": "anyseek.model.fourm.tokenizers.text",
    "load_text_tokenizer": "anyseek.model.fourm.tokenizers.text",
    "TRANSFORMS": "anyseek.model.transforms",
    "UserInputError": "anyseek.model.transforms",
    "transform_for": "anyseek.model.transforms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'model' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    """The public names, for tab completion."""
    return __all__
