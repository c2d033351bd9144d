"""Reading one item's bytes, from disk or over http(s), hashing them as they stream in.

Limits (file size, download size, timeout, content type) turn into :class:`ItemError` reasons.
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from anyseek.indexer.errors import ItemError
from anyseek.indexer.metadata import read_sidecar
from anyseek.indexer.records import RGB
from anyseek.indexer.sources import SourceRef, file_kind, is_file_modality, printable
from anyseek.settings import IndexerSettings

#: open flags: never block on a FIFO swapped in after the check, never take a terminal
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)

BLOCK = 1 << 20
MB = 1 << 20


@dataclass(frozen=True)
class FetchedPart:
    """One part of an item of any modality: a file's bytes, or a text (caption, JSON value)."""

    modality: str
    value: bytes | str
    sha256: str


@dataclass(frozen=True)
class Fetched:
    """One item's raw bytes with their SHA-256, modification time (0 for downloads) and the
    metadata of its sidecar ``IMAGE.json`` when it has one. Every item has its ``parts``: a
    photo file one, ``rgb``, with the file's hash as the item's (as ever, so a collection's
    hashes still match); an item the source gave parts of (``ref.parts``) has the hash of all of
    them. ``data`` is the first file's bytes (or the first text)."""

    ref: SourceRef
    data: bytes
    sha256: str
    mtime: int
    sidecar: dict[str, Any] | None = None
    parts: tuple[FetchedPart, ...] = ()
    read_bytes: int | None = None  # the bytes read, kept once ``data`` is let go (decoded)

    @property
    def size(self) -> int:
        """How many bytes the item's file had (its payload's ``bytes``)."""
        return len(self.data) if self.read_bytes is None else self.read_bytes

    def decoded(self) -> Fetched:
        """This item without its files' bytes, once they are decoded: a chunk waiting for the
        model holds its pictures' model inputs and thumbnails, not their files (a phone's
        photo is a few MB, its inputs a few hundred KB)."""
        parts = tuple(
            replace(p, value=b"") if isinstance(p.value, bytes) else p for p in self.parts
        )
        return replace(self, data=b"", parts=parts, read_bytes=self.size)


def fetch(ref: SourceRef, settings: IndexerSettings) -> Fetched:
    """The bytes of one item in its parts (a photo file: one, ``rgb``), or :class:`ItemError`
    with a one-line reason."""
    if ref.parts:
        return fetch_parts(ref, settings)
    read = fetch_url(ref, settings) if ref.is_url else read_file(ref, settings)
    return replace(read, parts=(FetchedPart(RGB, read.data, read.sha256),))


def fetch_parts(ref: SourceRef, settings: IndexerSettings) -> Fetched:
    """Every part of an item: files read (hashed, size-capped) as images are, texts taken as
    they are. The item's identity is the hash of all its parts, each with its modality, so the
    same depth map in two records makes two items."""
    parts: list[FetchedPart] = []
    mtime, sidecar = 0, None
    for modality, value in ref.parts:
        if not is_file_modality(modality):
            text_hash = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
            parts.append(FetchedPart(modality, value, text_hash))
            continue
        try:
            read = read_file(SourceRef(value, value, upload=ref.upload), settings)
        except ItemError as error:
            raise ItemError(f"{modality} {printable(value)}: {error}") from None
        parts.append(FetchedPart(modality, read.data, read.sha256))
        mtime = max(mtime, read.mtime)
        if len(ref.parts) == 1:  # a folder's depth map or sketch: its sidecar as an image's
            sidecar = read.sidecar
    digest = hashlib.sha256()
    for part in sorted(parts, key=lambda p: p.modality):
        digest.update(f"{part.modality}\0{part.sha256}\n".encode())
    first = next((p.value for p in parts if isinstance(p.value, bytes)), parts[0].value)
    data = first if isinstance(first, bytes) else first.encode("utf-8", "surrogatepass")
    return Fetched(ref, data, digest.hexdigest(), mtime, sidecar, tuple(parts))


def read_file(ref: SourceRef, settings: IndexerSettings) -> Fetched:
    """Read a local regular file in blocks, hashing as it goes, refusing files above the size
    cap. Its type is checked before it is opened (a FIFO, device or socket is never read) and
    again on the opened descriptor; at most cap + 1 bytes are ever read."""
    cap = int(settings.max_file_mb * MB)
    digest = hashlib.sha256()
    blocks: list[bytes] = []
    size = 0
    try:
        _check_type(os.stat(ref.uri).st_mode)
        descriptor = os.open(ref.uri, OPEN_FLAGS)
        with os.fdopen(descriptor, "rb", buffering=0) as handle:
            stat = os.fstat(descriptor)
            _check_type(stat.st_mode)  # what was opened, whatever the name points to now
            if stat.st_size > cap:
                raise ItemError(
                    f"file is {stat.st_size / MB:.1f} MB, above {settings.max_file_mb} MB"
                )
            while block := handle.read(min(BLOCK, cap + 1 - size)):
                size += len(block)
                if size > cap:
                    raise ItemError(f"file grew above {settings.max_file_mb} MB while read")
                digest.update(block)
                blocks.append(block)
    except FileNotFoundError:
        raise ItemError("file not found (or a broken link)") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ItemError("symlink loop") from None
        raise ItemError(f"cannot read the file: {error.strerror or 'I/O error'}") from None
    data = b"".join(blocks)
    if not data:
        raise ItemError("empty file (0 bytes)")
    sidecar = None if ref.upload else read_sidecar(Path(os.fsdecode(ref.uri)))
    mtime = 0 if ref.upload else int(stat.st_mtime)
    return Fetched(ref, data, digest.hexdigest(), mtime, sidecar)


def _check_type(mode: int) -> None:
    """Refuse anything but a regular file, naming what it is."""
    kind = file_kind(mode)
    if kind is not None:
        raise ItemError(f"{kind}, not a regular file: not read")


def fetch_url(ref: SourceRef, settings: IndexerSettings) -> Fetched:
    """Download an image with a timeout and a size cap; only ``image/*`` content is accepted."""
    cap = int(settings.url_max_mb * MB)
    digest = hashlib.sha256()
    blocks: list[bytes] = []
    size = 0
    try:
        with httpx.stream(
            "GET", ref.uri, timeout=settings.url_timeout_s, follow_redirects=True
        ) as response:
            if response.status_code != 200:
                raise ItemError(f"HTTP {response.status_code} from {ref.uri}")
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind and not kind.startswith("image/") and kind != "application/octet-stream":
                raise ItemError(f"not an image: content-type {kind!r}")
            for block in response.iter_bytes(BLOCK):
                size += len(block)
                if size > cap:
                    raise ItemError(f"download larger than {settings.url_max_mb} MB")
                digest.update(block)
                blocks.append(block)
    except httpx.TimeoutException:
        raise ItemError(f"timed out after {settings.url_timeout_s:g} s") from None
    except httpx.HTTPError as error:
        raise ItemError(f"download failed: {error}") from None
    if not blocks:
        raise ItemError("empty download (0 bytes)")
    return Fetched(ref, b"".join(blocks), digest.hexdigest(), 0)
