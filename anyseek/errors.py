"""Error types whose message is meant for the user: the CLI and the API print them as one line."""

from __future__ import annotations


class AnyseekError(Exception):
    """Base class for errors caused by input, configuration or environment, not by a bug."""


class SettingsError(AnyseekError):
    """A setting (environment variable or argument) has an invalid value."""


class ServiceUnavailableError(AnyseekError):
    """A service anyseek depends on (database, vector store, broker) does not answer."""


class NotFoundError(AnyseekError):
    """A named thing (collection, item, job, modality) does not exist."""


class AlreadyExistsError(AnyseekError):
    """A thing with this name already exists."""


class MissingExtraError(AnyseekError):
    """A command needs an optional extra (``pip install 'anyseek[NAME]'``) that is not installed."""


class ModelMismatchError(AnyseekError):
    """Vectors made by one model would be compared with another's (HTTP 409): never mixed."""
