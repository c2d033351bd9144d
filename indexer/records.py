"""Items of any modality: a folder of one kind of map, a JSONL of captions, or a manifest of
records with a column per modality -> source items whose parts the model reads at once.

An item's parts are (modality, value) pairs: a file path for pixel kinds (depth, semseg, sketch,
rgb...), the text for ``caption``, JSON text for structured kinds (palette, boxes). Paths in a
manifest are relative to it and checked against the allowed roots like a list's. A row that cannot
become an item (not JSON, not UTF-8, no part) is a per-row failure ``FILE:LINE: why``; the rest
of the file is indexed. Which modalities exist is :data:`anyseek.model.queries.QUERY_KINDS`
(``image`` named ``rgb``); which ones a model takes is checked by :func:`check_taken` before a job
is written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from anyseek.errors import PATH_ERRORS, path_refused
from anyseek.indexer.errors import ModalityError, SourceError
from anyseek.indexer.metadata import csv_value
from anyseek.indexer.sources import (
    Expanded,
    Skip,
    SourceRef,
    checked_path,
    describe,
    expand,
    list_entry,
    printable,
)
from anyseek.model.queries import QUERY_KINDS, item_name
from anyseek.search.stores.checks import check_name
from anyseek.settings import IndexerSettings

KEY = "key"
"""The manifest column (JSONL key) naming an item; without it an item is named ``FILE:LINE``."""
TEXT = "text"
"""The JSONL key holding a caption item's text."""
SCENE_CAPTIONS, SCENE_INDEX = "captions", "index"
"""A line of the scene data's ``captions.jsonl`` (the demo's gallery): ``{"index": N, "captions":
[...]}``, read as the scene's first caption (the one the demo asks by), keyed ``scene N``."""
RGB = "rgb"
MODALITIES: dict[str, str] = {item_name(name): kind.value for name, kind in QUERY_KINDS.items()}
"""Every modality an item may hold, by part name, with how its value is given (file/text/JSON)."""
EXTRA_NAMES: dict[str, tuple[str, ...]] = {"depth": ("*.npy", "*.npz")}
"""File names a folder of one modality holds beyond the image names: raw depth arrays."""


@dataclass(frozen=True)
class SourceForm:
    """What a source's entries are: files (or texts) of one modality, or records of several."""

    modality: str = RGB  # what each file of a folder or list is; "caption": a JSONL of texts
    manifest: bool = False  # one record a row (CSV or JSONL), a column per modality

    def __post_init__(self) -> None:
        """Refuse a modality nothing declares, naming those that exist."""
        if self.modality not in MODALITIES:
            raise ModalityError(
                f"unknown modality {self.modality!r}; choose from {', '.join(MODALITIES)}"
            )
        if self.manifest and self.modality != RGB:
            raise ModalityError("a manifest names its modalities in its columns: drop --modality")

    @property
    def plain(self) -> bool:
        """Whether the source is what it always was: image files, one rgb item each."""
        return not self.manifest and self.modality == RGB


def expand_items(
    settings: IndexerSettings, source: str | Path | Sequence[Path], form: SourceForm
) -> Expanded:
    """Every item of a source read as ``form`` says, with the entries left out and the rows
    that are no item, each with its reason."""
    if form.plain:
        return expand(settings, source)
    if form.manifest or form.modality == "caption":
        if not isinstance(source, str | Path) or str(source).startswith(("http://", "https://")):
            raise SourceError("a manifest or a JSONL of captions is one file on this machine")
        path = checked_path(settings, Path(source))
        return read_manifest(settings, path) if form.manifest else read_texts(path)
    return with_modality(expand(folder_settings(settings, form.modality), source), form.modality)


def check_request(
    settings: IndexerSettings,
    collection: str,
    source: str | Path | Sequence[Path],
    form: SourceForm,
) -> None:
    """Refuse, in a moment, a request that would fail after the model loads (seconds): a bad
    collection name, a local source path that does not exist or is outside the allowed roots
    (issue 71). URLs and lists of paths are read later, entry by entry."""
    check_name("collection", collection)
    if not isinstance(source, str | Path) or str(source).startswith(("http://", "https://")):
        return
    try:
        found = checked_path(settings, Path(source))
    except PATH_ERRORS as error:  # a path the OS refuses: too long, no file name, no access
        raise SourceError(path_refused("source", describe(source), error)) from None
    if (form.manifest or form.modality == "caption") and not found.is_file():
        raise SourceError(f"{describe(source)} is not a file (a JSONL or CSV is expected)")


def with_modality(found: Expanded, modality: str) -> Expanded:
    """A folder's or list's files as items of one modality (their one part is the file)."""
    if modality == RGB:
        return found
    refs = [replace(ref, parts=((modality, ref.uri),)) for ref in found.refs]
    return replace(found, refs=refs)


def folder_settings(settings: IndexerSettings, modality: str) -> IndexerSettings:
    """The indexer settings a folder of ``modality`` is walked with: raw depth arrays too."""
    extra = [name for name in EXTRA_NAMES.get(modality, ()) if name not in settings.include]
    if not extra:
        return settings
    return settings.model_copy(update={"include": [*settings.include, *extra]})


def read_texts(path: Path) -> Expanded:
    """A JSONL of caption items: ``{"text": ..., "key": ..., other fields: metadata}`` a line."""
    found = Expanded([])
    for line, row in _jsonl_lines(path, found):
        if TEXT not in row and SCENE_CAPTIONS in row:
            row = _scene_line(row)
        text = row.pop(TEXT, None)
        if not isinstance(text, str) or not text.strip():
            reason = (
                f"the caption is empty (the line's {TEXT!r} holds no words)"
                if isinstance(text, str)
                else f"no {TEXT!r} string (the caption) nor a {SCENE_CAPTIONS!r} list of them"
            )
            found.failures.append(_row_failure(path, line, reason))  # listed in line order
            continue
        found.refs.append(_record(path, line, row, [("caption", text)]))
    return _nonempty(found, path)


def _scene_line(row: dict[str, Any]) -> dict[str, Any]:
    """A scene data line as a caption item's row: its first caption, keyed ``scene N``."""
    captions, index = row.pop(SCENE_CAPTIONS), row.pop(SCENE_INDEX, None)
    text = captions[0] if isinstance(captions, list) and captions else None
    return {**row, TEXT: text, **({KEY: f"scene {index}"} if index is not None else {})}


def read_manifest(settings: IndexerSettings, path: Path) -> Expanded:
    """A CSV or JSONL manifest: one record a row, a column per modality (a file path relative
    to the manifest, or the text for ``caption``), an optional ``key``, metadata columns."""
    found = Expanded([])
    rows = _csv_lines(path, found) if path.suffix.lower() == ".csv" else _jsonl_lines(path, found)
    for line, row in rows:
        parts: list[tuple[str, str]] = []
        for name in [n for n in row if n in MODALITIES]:
            value = row.pop(name)
            if value in (None, ""):
                continue
            if MODALITIES[name] == "file":
                entry = str(value)
                target = Path(entry) if Path(entry).is_absolute() else path.parent / entry
                parts.append((name, list_entry(settings, target, entry).uri))
            elif MODALITIES[name] == "text":
                parts.append((name, str(value)))
            else:  # structured: kept as JSON text, read by the modality's transform
                parts.append((name, value if isinstance(value, str) else json.dumps(value)))
        if not parts:
            reason = f"no modality column with a value (columns: {', '.join(MODALITIES)})"
            found.failures.append(_row_failure(path, line, reason))
            continue
        found.refs.append(_record(path, line, row, parts))
    return _nonempty(found, path)


def check_taken(refs: Sequence[SourceRef], takes: Collection[str], model: str) -> None:
    """Refuse a source holding a modality the model does not take, before anything is written."""
    given = {name for ref in refs for name in ref.modalities}
    missing = sorted(given - set(takes))
    if missing:
        raise ModalityError(
            f"the model {model} does not take {', '.join(missing)}; it takes: {', '.join(takes)}"
        )


def _record(path: Path, line: int, row: dict[str, Any], parts: list[tuple[str, str]]) -> SourceRef:
    """One record's item: named by its ``key`` (else ``FILE:LINE``), the rest of the row as its
    metadata."""
    key = row.pop(KEY, None)
    name = str(key) if key not in (None, "") else f"{path.name}:{line}"
    uri = f"{path}:{line}"  # unique per row: failures and the job name it so
    return SourceRef(uri, name, metadata=row or None, parts=tuple(parts))


def _row_failure(path: Path, line: int, reason: str) -> Skip:
    """A row that is no item, as the job lists it (``FILE:LINE``, why)."""
    return Skip(printable(f"{path}:{line}"), reason)


def _read(path: Path) -> bytes:
    """A manifest's bytes; a folder or unreadable file is a one-line :class:`SourceError`."""
    if not path.is_file():
        raise SourceError(f"{printable(str(path))} is not a file (a JSONL or CSV is expected)")
    try:
        return path.read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read {printable(str(path))}: {error.strerror}") from None


def _jsonl_lines(path: Path, found: Expanded) -> Iterator[tuple[int, dict[str, Any]]]:
    """One JSON object a line, each bad line a failure on ``found`` (blank lines skipped)."""
    for line, raw in enumerate(_read(path).splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8-sig" if line == 1 else "utf-8"))
        except UnicodeDecodeError as error:
            found.failures.append(_row_failure(path, line, f"not UTF-8 text ({error.reason})"))
            continue
        except json.JSONDecodeError as error:
            found.failures.append(_row_failure(path, line, f"not JSON ({error.msg})"))
            continue
        if not isinstance(row, dict):
            found.failures.append(_row_failure(path, line, "not a JSON object"))
            continue
        yield line, row


def _csv_lines(path: Path, found: Expanded) -> Iterator[tuple[int, dict[str, Any]]]:
    """A CSV with a header: each row's non-empty cells by column (a CSV must be UTF-8)."""
    try:
        text = _read(path).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(f"{printable(str(path))}: not UTF-8 text (byte {error.start})") from None
    reader = csv.DictReader(io.StringIO(text))
    if KEY not in (reader.fieldnames or []) and not set(reader.fieldnames or []) & set(MODALITIES):
        raise SourceError(
            f"{printable(str(path))}: no column names a modality ({', '.join(MODALITIES)})"
        )
    for row in reader:
        cells = {k: v for k, v in row.items() if k and v not in (None, "")}
        yield (
            reader.line_num,
            {k: v if k in MODALITIES or k == KEY else csv_value(v) for k, v in cells.items()},
        )


def _nonempty(found: Expanded, path: Path) -> Expanded:
    """The items read, or an error when the file holds none, with its first bad row."""
    if not found.refs:
        first = f": {found.failures[0].path}: {found.failures[0].reason}" if found.failures else ""
        raise SourceError(f"no items in {printable(str(path))}{first}")
    return found
