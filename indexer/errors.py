"""Errors of indexing: a whole request refused (:class:`SourceError`) or one item failed."""

from __future__ import annotations

from anyseek.errors import AnyseekError, NotFoundError


class SourceError(AnyseekError):
    """A source that cannot be indexed at all: outside the allowed roots, missing, empty."""


class ModalityError(SourceError):
    """A source of a modality that does not exist or that the model does not take."""


class OutsideRootsError(SourceError):
    """A source outside the allowed roots: the server may not read it (HTTP 403)."""


class SourceMissingError(SourceError, NotFoundError):
    """A source that does not exist (HTTP 404)."""


class ItemError(Exception):
    """One item that cannot be indexed; its message is the one-line reason recorded for it."""
