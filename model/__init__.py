"""The any-to-any models, in three rooms: the 4M reimplementation (``fourm``), the built-in
network (``builtin``) and the service adapters (``service``, ``families``, ``bundle``,
``transforms``).

The library API below is imported on first use (``from model import load_fourm``), so importing a
light part of the package (``model.queries``, read by the command line at start-up) does not pay
for PyTorch and the network.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it
_EXPORTS = {
    "MultiMAE": "model.families.multimae",
    "load_multimae": "model.families.multimae",
    "ModalityTokens": "model.fourm.batch",
    "FourMConfig": "model.fourm.config",
    "load_fourm": "model.fourm.loading",
    "save_fourm": "model.fourm.loading",
    "ModalitySpec": "model.fourm.modalities",
    "get_modality": "model.fourm.modalities",
    "FourM": "model.fourm.network",
    "VectorDecoder": "model.fourm.inference.predict",
    "predict_embeddings": "model.fourm.inference.predict",
    "predict_logits": "model.fourm.inference.predict",
    "predict_tokens": "model.fourm.inference.predict",
    "GenerationTarget": "model.fourm.inference.sampling",
    "generate": "model.fourm.inference.sampling",
    "TokenizerError": "model.fourm.tokenizers",
    "VQTokenizer": "model.fourm.tokenizers",
    "load_vq_tokenizer": "model.fourm.tokenizers",
    "TextTokenizer": "model.fourm.tokenizers.text",
    "load_text_tokenizer": "model.fourm.tokenizers.text",
    "TRANSFORMS": "model.transforms",
    "UserInputError": "model.transforms",
    "transform_for": "model.transforms",
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
