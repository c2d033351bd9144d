"""Serving files from disk safely: only regular files, opened without following a final link,
checked when they are served (not when they were indexed).

An indexed image may be swapped for a symlink to ``/etc/passwd`` after indexing; so the image
route serves a source file only when, now, it resolves inside the allowed roots (or the data
directory, where uploads are spooled) when roots are set, is a regular file, and still has the
SHA-256 it was indexed with. Thumbnails, in the data directory, are opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from anyseek.api.errors import ApiError
from anyseek.settings import Settings

MB = 1 << 20
NOFOLLOW = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_regular(path: Path, flags: int, max_bytes: int) -> bytes | None:
    """The bytes of a regular file of at most ``max_bytes``; None for anything else."""
    try:
        descriptor = os.open(path, flags)
    except OSError:  # missing, a link where none may be, unreadable
        return None
    with os.fdopen(descriptor, "rb", buffering=0) as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        data = handle.read(max_bytes + 1)
    return data if len(data) <= max_bytes else None


def source_roots(settings: Settings) -> list[Path]:
    """Where an item's own file may be served from: the allowed roots and the data directory
    (uploads); empty when indexing may read anywhere (then the hash alone vouches for it)."""
    roots = [Path(os.path.realpath(root.expanduser())) for root in settings.indexer.allowed_roots]
    if roots:
        roots.append(Path(os.path.realpath(settings.data_dir)))
    return roots


def indexed_image(settings: Settings, source_uri: str, sha256: str, item_id: int) -> bytes:
    """The item's original bytes, if its file is still the one indexed; else a 404."""
    missing = ApiError(404, f"the image of item {item_id} is not stored on this server", "item_id")
    if "://" in source_uri:
        raise missing
    resolved = Path(os.path.realpath(source_uri))
    roots = source_roots(settings)
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise missing
    data = _read_regular(resolved, NOFOLLOW, int(settings.indexer.max_file_mb * MB))
    if data is None or hashlib.sha256(data).hexdigest() != sha256:
        raise missing
    return data


def data_file(path: Path, max_mb: float = 64) -> bytes | None:
    """A file the server wrote under its data directory (a thumbnail), never through a link."""
    return _read_regular(path, NOFOLLOW, int(max_mb * MB))
