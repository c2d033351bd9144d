"""Errors raised by the tokenizers, with messages meant for the user."""

from __future__ import annotations

from anyseek.errors import AnyseekError


class TokenizerError(AnyseekError):
    """A tokenizer file or config is unusable, or is the wrong kind for the requested modality."""


class TokenizerInputError(AnyseekError):
    """Data handed to a tokenizer has the wrong shape, dtype or value range."""
