"""What to index: a folder, a text/CSV list of paths or URLs, or explicit paths -> source items.

Each item is a :class:`SourceRef`: the URI it is read from (an absolute path or an http(s) URL) and
the path shown and filtered on (relative to the folder root for folders). Server-side paths must lie
under ``indexer.allowed_roots`` when that is set, and symlinks never lead out of a folder's root.

A source fails per entry, never whole: a folder's entries are listed by name without being opened
(a symlink loop, a FIFO, a device or an unreadable file is failed by ``anyseek.indexer.fetch`` with
its reason, on the job); a name that is not UTF-8 is kept as the bytes it is (``os.fsencode`` of the
URI) and shown escaped (:func:`printable`). Paths the user names wrongly are a one-line
:class:`SourceError` (a 4xx over HTTP).

Nothing in a folder is left out silently: every entry that is not an item (a name outside the
include globs, a link out of the root, a folder link that loops, a folder that cannot be listed)
is a :class:`Skip` with its reason, recorded on the job beside its failures. A sidecar
``IMAGE.json`` is read with its image, so it is neither.
"""

from __future__ import annotations

import csv
import fnmatch
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from anyseek.indexer.errors import OutsideRootsError, SourceError, SourceMissingError
from anyseek.model.queries import query_kind, query_name
from anyseek.settings import IndexerSettings

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
    # the item's parts, (modality, file path or caption text) each; () is one rgb image at uri
    parts: tuple[tuple[str, str], ...] = ()

    def to_row(self) -> list[Any]:
        """The ref as a JSON list, as a job's chunk stores it (:meth:`from_row` reads it)."""
        row: list[Any] = [self.uri, self.path, self.upload]
        if self.metadata or self.parts:
            row.append(self.metadata or None)
        if self.parts:
            row.append([list(part) for part in self.parts])
        return row

    @classmethod
    def from_row(cls, row: list[Any]) -> SourceRef:
        """A ref from :meth:`to_row`'s list (also the shorter lists of earlier versions)."""
        uri, path, upload, *rest = row
        metadata = rest[0] if rest else None
        parts = tuple((str(m), str(v)) for m, v in rest[1]) if len(rest) > 1 else ()
        return cls(uri, path, upload, metadata, parts)

    @property
    def modalities(self) -> tuple[str, ...]:
        """The names of the item's parts, in the order given (an image file alone: ``rgb``)."""
        return tuple(name for name, _ in self.parts) or ("rgb",)

    @property
    def shown(self) -> str:
        """The URI as text that any database stores: undecodable bytes of a name escaped."""
        return printable(self.uri)

    @property
    def undecodable(self) -> bytes | None:
        """The URI's own bytes when they are not UTF-8 (stored beside :attr:`shown`, so the
        file can be read again), else None."""
        raw = os.fsencode(self.uri)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
        return None

    @property
    def shown_path(self) -> str:
        """:attr:`path` with undecodable bytes escaped (``payload.path``)."""
        return printable(self.path)

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
        """Lower-case extension without the dot ("" when there is none); an item of parts: its
        first file's (a caption alone: "")."""
        files = [value for name, value in self.parts if is_file_modality(name)]
        uri = files[0] if files else ("" if self.parts else self.uri)
        name = uri.split("?", 1)[0].rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[-1].lower() if "." in name else ""


@dataclass(frozen=True)
class Skip:
    """An entry of a source that is not indexed, and why (recorded on the job, never silent)."""

    path: str  # as shown, like a failure's: undecodable bytes escaped
    reason: str


@dataclass(frozen=True)
class Expanded:
    """A source's items to index and the entries it leaves out, each with its reason."""

    refs: list[SourceRef]
    skips: list[Skip] = field(default_factory=list)
    failures: list[Skip] = field(default_factory=list)  # rows of a manifest that are no item


LOOP = "symlink loop: a link to a folder that contains it"
OUTSIDE = "a link to outside the indexed folder: not followed"
LINKED_FOLDER = "a link to a folder inside the indexed folder: its images are indexed there"


def is_file_modality(name: str) -> bool:
    """Whether an item's part of this modality is a file (else a text or JSON value)."""
    kind = query_kind(query_name(name))
    return kind is not None and kind.value == "file"


def printable(text: str) -> str:
    """A file name as valid UTF-8 text: bytes that are not UTF-8 (kept by the OS's
    surrogate escapes) shown as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


#: file types that are never opened, by the name each is reported with
NOT_FILES = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)"...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return NOT_FILES.get(stat.S_IFMT(mode), "not a regular file")


def describe(source: str | Path | Sequence[Path]) -> str:
    """A short text naming the source, stored on the job."""
    if isinstance(source, str | Path):
        return printable(str(source))
    items = list(source)
    return f"{len(items)} files" + (f" ({printable(str(items[0]))}, ...)" if items else "")


def expand_source(
    settings: IndexerSettings, source: str | Path | Sequence[Path]
) -> list[SourceRef]:
    """Every item of a source, in a stable order; a source that gives nothing is an error."""
    return expand(settings, source).refs


def expand(settings: IndexerSettings, source: str | Path | Sequence[Path]) -> Expanded:
    """Every item of a source in a stable order, and the entries of a folder left out with
    their reasons; a source that gives nothing is an error."""
    if isinstance(source, str) and source.startswith(URL_SCHEMES):
        return Expanded([SourceRef(source, source)])
    if isinstance(source, str | Path):
        path = checked_path(settings, Path(source))
        if path.is_dir():
            return scan_folder(settings, path)
        if path.suffix.lower() in LIST_SUFFIXES:
            return Expanded(read_list(settings, path))
        return Expanded([explicit_file(settings, path)])
    refs = [explicit_file(settings, Path(p)) for p in source]
    if not refs:
        raise SourceError("no files given to index")
    return Expanded(refs)


def checked_path(settings: IndexerSettings, path: Path) -> Path:
    """An existing path, resolved, inside the allowed roots; else a one-line error."""
    resolved = _resolved(path)
    roots = [root.expanduser().resolve() for root in settings.allowed_roots]
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise OutsideRootsError(
            f"{path} is outside the allowed roots ({', '.join(map(str, roots))}); "
            "see ANYSEEK_INDEXER__ALLOWED_ROOTS"
        )
    if not resolved.exists():
        raise SourceMissingError(f"{printable(str(path))} does not exist")
    return resolved


def _resolved(path: Path) -> Path:
    """``path`` with ``~`` expanded and links resolved, or a one-line error naming it."""
    try:
        return path.expanduser().resolve()
    except RuntimeError:  # "~nosuchuser", or a symlink loop (Python 3.11)
        shown = printable(str(path))
        if shown.startswith("~"):
            raise SourceError(f"{shown!r}: no such user's home folder") from None
        raise SourceError(f"{shown!r} is a symlink loop") from None
    except (ValueError, OSError) as exc:  # a NUL byte, a symlink loop (newer Pythons)
        reason = getattr(exc, "strerror", None) or "not a usable path"
        raise SourceError(f"{printable(str(path))!r} is not a usable path: {reason}") from None


def explicit_file(settings: IndexerSettings, path: Path) -> SourceRef:
    """One file named explicitly (API uploads, path lists): recorded under its own path; a FIFO,
    a device or a socket is refused by its type, never opened."""
    resolved = checked_path(settings, path)
    kind = file_kind(resolved.stat().st_mode)
    if kind is not None:
        raise SourceError(f"{printable(str(path))} is {kind}, not an image file")
    return SourceRef(str(resolved), path.name)


def included(settings: IndexerSettings, relative: str) -> bool:
    """Whether a file (path relative to the root) passes the include and exclude globs."""
    return name_refused(settings, relative) is None


def name_refused(settings: IndexerSettings, relative: str) -> str | None:
    """Why a file (path relative to the root) is not indexed by its name; None if it is."""
    name = relative.rsplit("/", 1)[-1].lower()
    if not any(fnmatch.fnmatch(name, pattern.lower()) for pattern in settings.include):
        return f"not an image name (ANYSEEK_INDEXER__INCLUDE: {', '.join(settings.include)})"
    for pattern in settings.exclude:
        if fnmatch.fnmatch(relative, pattern):
            return f"excluded by {pattern!r} (ANYSEEK_INDEXER__EXCLUDE)"
    return None


def scan_folder(settings: IndexerSettings, root: Path) -> Expanded:
    """A folder's items and its skipped entries; a folder without items is an error that says
    what was skipped."""
    found = Expanded([])
    for entry in walk_folder(settings, root):
        (found.skips if isinstance(entry, Skip) else found.refs).append(entry)
    if not found.refs:
        first = f"; {len(found.skips)} skipped, e.g. " if found.skips else ""
        example = f"{found.skips[0].path}: {found.skips[0].reason}" if found.skips else ""
        raise SourceError(
            f"no images in {printable(str(root))} (include: {', '.join(settings.include)}"
            + (f"; exclude: {', '.join(settings.exclude)}" if settings.exclude else "")
            + f"{first}{example})"
        )
    return found


def walk_folder(settings: IndexerSettings, root: Path) -> Iterator[SourceRef | Skip]:
    """Entries under ``root``, recursively, sorted, none opened: each included name is an item
    (what it really is, a loop, a FIFO..., is checked when it is read and failed there alone);
    every other entry is a :class:`Skip` with its reason. Links are followed only to files
    inside the root, never into folders (which the walk reaches under their own path)."""
    unlisted: list[OSError] = []
    for folder, dirs, files in os.walk(root, onerror=unlisted.append, followlinks=False):
        yield from (_unlisted(root, error) for error in unlisted)
        unlisted.clear()
        dirs.sort()
        here = Path(folder)
        yield from (_folder_link(root, here / name) for name in dirs if (here / name).is_symlink())
        sidecars = _sidecars(settings, root, here, files)
        for name in sorted(files):
            full = here / name
            relative = full.relative_to(root).as_posix()
            if name in sidecars:
                continue  # read with its image
            refused = name_refused(settings, relative)
            if refused is None and full.is_symlink() and not _inside(root, full):
                refused = OUTSIDE  # a link out of the root would let a folder read anything
            yield (
                SourceRef(str(full), relative)
                if refused is None
                else Skip(printable(str(full)), refused)
            )
    yield from (_unlisted(root, error) for error in unlisted)


def _inside(root: Path, link: Path) -> bool:
    """Whether a link resolves to a path inside ``root``."""
    return Path(os.path.realpath(link)).is_relative_to(root)


def _folder_link(root: Path, link: Path) -> Skip:
    """Why a link to a folder is not walked: it loops, leads out, or leads to a folder the walk
    reaches anyway."""
    target = Path(os.path.realpath(link))
    if link.parent.is_relative_to(target):
        reason = LOOP
    elif target.is_relative_to(root):
        reason = LINKED_FOLDER
    else:
        reason = OUTSIDE
    return Skip(printable(str(link)), reason)


def _unlisted(root: Path, error: OSError) -> Skip:
    """A folder the walk could not list, with the system's reason."""
    reason = error.strerror or type(error).__name__
    return Skip(printable(str(error.filename or root)), f"cannot list the folder: {reason}")


def _sidecars(settings: IndexerSettings, root: Path, folder: Path, files: list[str]) -> set[str]:
    """The names among ``files`` that are metadata sidecars (``IMAGE.jpg.json``, ``IMAGE.json``)
    of an image indexed from the same folder."""
    images = [
        n
        for n in files
        if name_refused(settings, (folder / n).relative_to(root).as_posix()) is None
    ]
    return {f"{n}.json" for n in images} | {
        f"{n.rsplit('.', 1)[0]}.json" for n in images if "." in n
    }


def read_list(settings: IndexerSettings, path: Path) -> list[SourceRef]:
    """A text list (one path or URL a line) or CSV (first column); paths relative to the list."""
    kind = file_kind(path.stat().st_mode)
    if kind is not None:
        raise SourceError(f"the list {printable(str(path))} is {kind}, not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise SourceError(f"cannot read the list {printable(str(path))}: {reason}") from None
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
    """A path from a list: refused outside the allowed roots; a missing, looping or odd file
    fails as an item when it is read."""
    try:
        resolved = item.expanduser().resolve()
    except (RuntimeError, ValueError, OSError):  # a loop or "~nosuchuser": fails when read
        return SourceRef(str(item), entry)
    roots = [root.expanduser().resolve() for root in settings.allowed_roots]
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise OutsideRootsError(f"{entry} (in the list) is outside the allowed roots")
    return SourceRef(str(resolved), entry)
