"""Captions from user text to the 4M caption input: WordPiece ids followed by ``[EOS]``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

from anyseek.model.fourm.tokenizers.text import TextTokenizer, load_text_tokenizer
from anyseek.model.transforms.base import UserInputError


@cache
def _tokenizer(path: str | None) -> TextTokenizer:
    """Load each WordPiece file once per process."""
    return load_text_tokenizer(path)


@dataclass(frozen=True)
class CaptionTransform:
    """Caption string -> ``LongTensor [L]`` of ids ending in ``[EOS]`` (pad batches with 0).

    Uses the official WordPiece file shipped with anyseek unless ``tokenizer_path`` is given.
    Empty captions and captions over 256 tokens are refused.
    """

    tokenizer_path: str | None = None

    def __call__(self, text: str) -> torch.Tensor:
        """Tokenise one caption."""
        if not isinstance(text, str):
            raise UserInputError(f"a caption must be text, got {type(text).__name__}")
        return torch.tensor(_tokenizer(self.tokenizer_path).caption_ids(text), dtype=torch.long)
