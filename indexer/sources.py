"""What to index: a folder, a text/CSV list of paths or URLs, or explicit paths -> source items.

Each item is a :class:`SourceRef`: the URI it is read from (an absolute path or an http(s) URL) and
the path shown and filtered on (relative to the folder root for folders). Server-side paths must lie
under ``indexer.allowed_roots`` when that is set, and symlinks never lead out of a folder's root.
"""

from __future__ import annotations

import csv
import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from anyseek.settings import IndexerSettings
from indexer.errors import SourceError

LIST_SUFFIXES = (".txt", ".csv", ".lst")
URL_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class SourceRef:
    """One item to index: where to read it and the path recorded for it (``payload.path``)."""

    uri: str
    path: str
    upload: bool = False  # spooled upload: recorded with mtime 0, like URLs
    # user metadata given with the source (a metadata file's row, an upload's field)
    metadata: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def is_url(self) -> bool:
        """Whether the item is downloaded rather than read from disk."""
        return self.uri.startswith(URL_SCHEMES)

    @property
    def folder(self) -> str:
        """The parent folder of :attr:`path`, "" at the top (URLs: "")."""
        if self.is_url:
            return ""
        parent = str(PurePosixPath(self.path).parent)
        return "" if parent == "." else parent

    @property
    def ext(self) -> str:
        """Lower-case extension without the dot ("" when there is none)."""
        name = self.uri.split("?", 1)[0].rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def describe(source: str | Path | Sequence[Path]) -> str:
    """A short text naming the source, stored on the job."""
    if isinstance(source, str | Path):
        return str(source)
    items = list(source)
    return f"{len(items)} files" + (f" ({items[0]}, ...)" if items else "")


def expand_source(
    settings: IndexerSettings, source: str | Path | Sequence[Path]
) -> list[SourceRef]:
    """Every item of a source, in a stable order; a source that gives nothing is an error."""
    if isinstance(source, str) and source.startswith(URL_SCHEMES):
        refs = [SourceRef(source, source)]
    elif isinstance(source, str | Path):
        path = checked_path(settings, Path(source))
        if path.is_dir():
            refs = list(walk_folder(settings, path))
            if not refs:
                raise SourceError(
                    f"no images in {path} (include: {', '.join(settings.include)}"
                    + (f"; exclude: {', '.join(settings.exclude)})" if settings.exclude else ")")
                )
        elif path.suffix.lower() in LIST_SUFFIXES:
            refs = read_list(settings, path)
        else:
            refs = [SourceRef(str(path), path.name)]
    else:
        refs = [explicit_file(settings, Path(p)) for p in source]
        if not refs:
            raise SourceError("no files given to index")
    return refs


def checked_path(settings: IndexerSettings, path: Path) -> Path:
    """An existing path, resolved, inside the allowed roots; else a one-line error."""
    try:
        resolved = path.expanduser().resolve()
    except (ValueError, OSError) as exc:  # a NUL byte, an unresolvable home, a symlink loop
        raise SourceError(f"{str(path)!r} is not a usable path ({exc})") from None
    roots = [root.expanduser().resolve() for root in settings.allowed_roots]
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise SourceError(
            f"{path} is outside the allowed roots ({', '.join(map(str, roots))}); "
            "see ANYSEEK_INDEXER__ALLOWED_ROOTS"
        )
    if not resolved.exists():
        raise SourceError(f"{path} does not exist")
    return resolved


def explicit_file(settings: IndexerSettings, path: Path) -> SourceRef:
    """One file named explicitly (API uploads, path lists): recorded under its own path."""
    resolved = checked_path(settings, path)
    if not resolved.is_file():
        raise SourceError(f"{path} is not a file")
    return SourceRef(str(resolved), path.name)


def included(settings: IndexerSettings, relative: str) -> bool:
    """Whether a file (path relative to the root) passes the include and exclude globs."""
    name = relative.rsplit("/", 1)[-1].lower()
    if not any(fnmatch.fnmatch(name, pattern.lower()) for pattern in settings.include):
        return False
    return not any(fnmatch.fnmatch(relative, pattern) for pattern in settings.exclude)


def walk_folder(settings: IndexerSettings, root: Path) -> Iterator[SourceRef]:
    """Image files under ``root``, recursively, sorted; symlinks are kept only inside the root."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            full = Path(folder) / name
            relative = full.relative_to(root).as_posix()
            if not included(settings, relative):
                continue
            if full.is_symlink() and not full.resolve().is_relative_to(root):
                continue  # a link out of the root would let a folder read anything
            if full.is_file():
                yield SourceRef(str(full), relative)


def read_list(settings: IndexerSettings, path: Path) -> list[SourceRef]:
    """A text list (one path or URL a line) or CSV (first column); paths relative to the list."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"cannot read the list {path}: {error}") from None
    rows = csv.reader(text.splitlines()) if path.suffix.lower() == ".csv" else text.splitlines()
    refs: list[SourceRef] = []
    for row in rows:
        entry = (row[0] if row else "") if isinstance(row, list) else row
        entry = entry.strip()
        if not entry or entry.startswith("#") or entry.lower() in ("path", "url", "uri"):
            continue
        if entry.startswith(URL_SCHEMES):
            refs.append(SourceRef(entry, entry))
            continue
        item = Path(entry) if Path(entry).is_absolute() else path.parent / entry
        refs.append(list_entry(settings, item, entry))
    if not refs:
        raise SourceError(f"the list {path} names no files or URLs")
    return refs


def list_entry(settings: IndexerSettings, item: Path, entry: str) -> SourceRef:
    """A path from a list: refused outside the allowed roots; a missing file fails as an item."""
    resolved = item.expanduser().resolve()
    roots = [root.expanduser().resolve() for root in settings.allowed_roots]
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise SourceError(f"{entry} (in the list) is outside the allowed roots")
    return SourceRef(str(resolved), entry)
