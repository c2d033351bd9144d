"""Error types whose message is meant for the user: the CLI and the API print them as one line."""

from __future__ import annotations

import errno
import re
from typing import TypeVar

#: reprs that say nothing to a user and change every run: ``<_io.BytesIO object at 0x7f..>``
_OBJECT_REPR = re.compile(r"<([\w.]+?)(?: object)?(?: [^<>]*?)? at 0x[0-9a-fA-F]+>")
_CLASS_REPR = re.compile(r"<class '([\w.]+)'>")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def plain(message: object) -> str:
    """A message with no memory addresses or internal reprs (``<_io.BytesIO object at 0x..>``
    becomes ``BytesIO``), on one line, valid UTF-8: what users see of any error."""
    text = _OBJECT_REPR.sub(lambda m: m.group(1).rsplit(".", 1)[-1], str(message))
    text = _CLASS_REPR.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text)
    text = _ADDRESS.sub("", text)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # a name's stray bytes
    return " ".join(text.split())


class AnyseekError(Exception):
    """Base class for errors caused by input, configuration or environment, not by a bug."""


E = TypeVar("E", bound=AnyseekError)


def at_field(error: E, field: str) -> E:
    """``error`` naming the input at fault (``name``, ``item_id``, ``job_id``, ``k``...): the
    API says where the request gave it (``path.name``, ``body.name``; docs/api.md)."""
    error.field = field  # type: ignore[attr-defined]
    return error


class SettingsError(AnyseekError):
    """A setting (environment variable or argument) has an invalid value."""


class ServiceUnavailableError(AnyseekError):
    """A service anyseek depends on (database, vector store, broker) does not answer."""


class WriteFailedError(ServiceUnavailableError):
    """A file anyseek writes (the vector store, thumbnails) could not be written: the disk is
    full, read-only or gone. Nothing half-written is used; retried like a service outage."""


#: what a write that fails for lack of room says (no space, over a quota)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def write_failed(what: str, where: object, error: OSError) -> WriteFailedError:
    """One line saying ``what`` could not be written in the folder ``where``, and why: a full
    disk is named as such, as the thing to fix."""
    reason = error.strerror or plain(error)
    if error.errno in DISK_FULL:
        return WriteFailedError(f"the disk is full: cannot write {what} in {where} ({reason})")
    return WriteFailedError(f"cannot write {what} in {where}: {reason}")


class NotFoundError(AnyseekError):
    """A named thing (collection, item, job, modality) does not exist."""


class AlreadyExistsError(AnyseekError):
    """A thing with this name already exists."""


class MissingExtraError(AnyseekError):
    """A command needs an optional extra (``pip install 'anyseek[NAME]'``) that is not installed."""


class ModelMismatchError(AnyseekError):
    """Vectors made by one model would be compared with another's (HTTP 409): never mixed."""


SHOWN_PATH = 120  # characters of a user's path an error message quotes


#: what probing a user-given path raises when the OS cannot take it: OSError (too long, a loop, no
#: permission), ValueError (a NUL byte; UnicodeEncodeError for text that is no file name)
PATH_ERRORS = (OSError, ValueError)


def path_refused(what: str, path: object, error: Exception) -> str:
    """One line saying a user-given path cannot be used (too long, not a file name, no
    permission): what it was for, the path (shortened) and the reason, never a traceback."""
    text = plain(path)
    shown = text if len(text) <= SHOWN_PATH else f"{text[: SHOWN_PATH - 3]}..."
    reason = getattr(error, "strerror", None) or plain(error)
    return f"{what} {shown!r} cannot be read: {reason}"
