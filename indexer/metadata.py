"""Where item metadata comes from (a CSV/JSONL file keyed by path, a sidecar ``IMAGE.json``, an
upload's field) and how an edit is recorded: the item's row, the field registry and the outbox.

Values are checked and normalised by ``anyseek.search.fields``; the store's payload follows the
database through the metadata outbox (``anyseek.indexer.outbox.apply_metadata``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anyseek.db import repository
from anyseek.db.models import Item, PendingMetadata
from anyseek.errors import PATH_ERRORS, NotFoundError, at_field, path_refused
from anyseek.indexer.errors import ItemError, SourceError
from anyseek.indexer.sources import SourceRef, checked_path, file_kind, printable
from anyseek.search.fields import (
    MetadataError,
    check_kinds,
    kinds_of,
    merge,
    normalize_metadata,
)
from anyseek.settings import IndexerSettings

KEY = "path"
"""The column (CSV) or key (JSONL) naming the image a row of a metadata file belongs to."""
SIDECAR_SUFFIX = ".json"
UNMATCHED_SHOWN = 5  # rows matching no image named on the job, besides their count


class MetadataRows(dict[str, dict[str, Any]]):
    """A metadata file's rows by their ``path``, each remembering where it was (``NAME:LINE``),
    so a row that matches no image can be pointed at."""

    def __init__(self) -> None:
        super().__init__()
        self.where: dict[str, str] = {}


def read_metadata_file(path: Path) -> MetadataRows:
    """Rows of a ``.csv`` or ``.jsonl`` metadata file by their ``path``; a bad file is a
    :class:`SourceError` naming the line."""
    try:
        data = path.read_bytes()
    except PATH_ERRORS as error:
        raise SourceError(path_refused("metadata file", path, error)) from None
    return parse_metadata(data, str(path))


def read_allowed_metadata_file(settings: IndexerSettings, path: str) -> MetadataRows:
    """A metadata file named by an API client: checked as a job's source is (inside the allowed
    roots, existing) and a regular file (a FIFO would block the read), then read."""
    resolved = checked_path(settings, Path(path))
    try:
        kind = file_kind(resolved.stat().st_mode)
    except PATH_ERRORS as error:
        raise SourceError(path_refused("metadata file", path, error)) from None
    if kind is not None:
        raise SourceError(f"metadata file {printable(path)} is {kind}, not a CSV or JSONL file")
    return read_metadata_file(resolved)


def parse_metadata(data: bytes | str, name: str) -> MetadataRows:
    """Rows of a metadata file's content by their ``path``: CSV when ``name`` (the file's path or
    upload name, which labels every error) ends in ``.csv``, else one JSON object a line; values
    checked as every metadata value is (``anyseek.search.fields``). A bad row is a
    :class:`SourceError` saying ``NAME:LINE: why``, for the CLI and the API alike."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise SourceError(f"{name}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    rows = _csv_rows(text) if name.lower().endswith(".csv") else _jsonl_rows(text, name)
    table = MetadataRows()
    for line, row in rows:
        key = row.pop(KEY, None)
        if not isinstance(key, str) or not key:
            raise SourceError(f"{name}:{line}: no {KEY!r} naming the image")
        try:
            table[key] = normalize_metadata(row)
        except MetadataError as error:
            raise SourceError(f"{name}:{line}: {error}") from None
        table.where[key] = f"{name}:{line}"
    return table


def _jsonl_rows(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    """One JSON object a line (blank lines skipped)."""
    rows = []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            raise SourceError(f"{name}:{line}: not JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise SourceError(f"{name}:{line}: each line must be a JSON object")
        rows.append((line, row))
    return rows


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    """CSV rows with a header; cells typed by :func:`csv_value`, empty cells left out."""
    reader = csv.DictReader(text.splitlines())
    return [
        (n, {k: csv_value(v) for k, v in row.items() if k and v not in (None, "")})
        for n, row in enumerate(reader, 2)
    ]


def csv_value(cell: str) -> Any:
    """A CSV cell as a value: true/false, a number, a JSON list of strings, else the text (ISO
    dates are recognised when normalised)."""
    text = cell.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else text


def attach(refs: Sequence[SourceRef], table: Mapping[str, Mapping[str, Any]]) -> list[SourceRef]:
    """Each ref with its row of a metadata file (matched by its path, or its full URI)."""
    out = []
    for ref in refs:
        row = table.get(ref.path, table.get(ref.uri))
        out.append(ref if row is None else replace(ref, metadata={**(ref.metadata or {}), **row}))
    return out


def unmatched(refs: Sequence[SourceRef], table: Mapping[str, Any]) -> list[str]:
    """Rows of a metadata file that name none of the refs, as ``NAME:LINE (path)`` where the
    table knows its lines (else the path): reported on the job, never dropped silently."""
    known = {ref.path for ref in refs} | {ref.uri for ref in refs}
    where = getattr(table, "where", {})
    return [f"{where[key]} ({key})" if key in where else key for key in table if key not in known]


def read_sidecar(image: Path) -> dict[str, Any] | None:
    """The metadata in ``IMAGE.jpg.json`` or ``IMAGE.json`` next to an image, if there is one."""
    for candidate in (image.with_name(image.name + SIDECAR_SUFFIX), image.with_suffix(".json")):
        if candidate == image or not candidate.is_file():
            continue
        try:
            value = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ItemError(f"sidecar {candidate.name}: not readable JSON ({error})") from None
        if not isinstance(value, dict):
            raise ItemError(f"sidecar {candidate.name}: must be a JSON object")
        return value
    return None


def register(session: Session, collection_id: int, metadata: Mapping[str, Any]) -> None:
    """Check the values' kinds against the collection's registry and register new fields."""
    if not metadata:
        return
    registry = repository.field_registry(session, collection_id)
    check_kinds(registry, metadata)
    registry = repository.register_fields(session, collection_id, kinds_of(metadata))
    check_kinds(registry, metadata)  # a concurrent writer registered another kind first


def edit(session: Session, collection: str, item_id: int, changes: Mapping[str, Any]) -> Item:
    """Merge ``changes`` into an item's metadata (``None`` removes a field) and stage the result
    in the metadata outbox, in the caller's transaction; the item."""
    owner = repository.get_collection(session, collection)
    item = session.get(Item, item_id, with_for_update=True)
    if item is None or item.collection_id != owner.id:
        raise at_field(NotFoundError(f"collection {collection!r} has no item {item_id}"), "item_id")
    merged = merge(item.meta or {}, normalize_metadata(changes, allow_null=True))
    register(session, owner.id, merged)
    item.meta = merged
    stage(session, item, merged)
    return item


def stage(session: Session, item: Item, metadata: Mapping[str, Any]) -> None:
    """Put an item's whole metadata in the outbox (a newer edit replaces an unapplied one)."""
    row = session.scalar(
        select(PendingMetadata).where(PendingMetadata.item_id == item.id).with_for_update()
    )
    text = json.dumps(dict(metadata), sort_keys=True)
    if row is None:
        session.add(
            PendingMetadata(item_id=item.id, collection_id=item.collection_id, metadata_json=text)
        )
    else:
        row.metadata_json = text
        row.revision += 1
    session.flush()
