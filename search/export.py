"""Export a collection: one record per indexed item with its path, payload, metadata, every
space's stored vector and the model version, as JSON lines or Parquet; and read an export back.

Records come from the metadata database (which items are indexed, their paths and hashes, the
collection's model) joined with the vector store (vectors and payloads), a batch at a time, so an
export streams in constant memory. Vectors are written as the store holds them (float32, unit
length in cosine spaces) and read back bit for bit: JSON floats of float32 values round-trip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import select

from anyseek.db import repository, versions
from anyseek.db.models import Item, ItemStatus
from anyseek.db.session import Database
from anyseek.errors import AnyseekError, MissingExtraError
from anyseek.search.stores import VectorStore

ExportFormat = Literal["jsonl", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "parquet")
EXPORT_BATCH = 256


@dataclass(frozen=True)
class ExportRecord:
    """One exported item."""

    id: int
    path: str
    sha256: str
    payload: dict[str, Any]
    metadata: dict[str, Any]  # the user's own fields (issue #27 item 1); {} until items have them
    vectors: dict[str, np.ndarray]  # space -> float32 vector as stored
    model: str  # name@version of the model that made the vectors
    # the item's parts, {modality: file path or caption text}; an image file: {"rgb": path}
    parts: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The item's name (its path for a file, its record's key)."""
        return str(self.payload.get("key", self.path))

    @property
    def modalities(self) -> list[str]:
        """The modalities the item holds."""
        return sorted(self.parts) or ["rgb"]

    def as_json(self) -> dict[str, Any]:
        """The record as one JSON object (vectors as lists of floats)."""
        return {
            "id": self.id,
            "key": self.key,
            "modalities": self.modalities,
            "parts": self.parts,
            "path": self.path,
            "sha256": self.sha256,
            "payload": self.payload,
            "metadata": self.metadata,
            "model": self.model,
            "vectors": {s: v.astype(np.float32).tolist() for s, v in sorted(self.vectors.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportRecord:
        """A record from :meth:`as_json`'s object."""
        return cls(
            id=int(data["id"]),
            path=str(data["path"]),
            sha256=str(data["sha256"]),
            payload=dict(data.get("payload") or {}),
            metadata=dict(data.get("metadata") or {}),
            vectors={s: np.asarray(v, dtype=np.float32) for s, v in data["vectors"].items()},
            model=str(data["model"]),
            parts=dict(data.get("parts") or {}),
        )


def batched(records: Iterable[ExportRecord], size: int) -> Iterator[list[ExportRecord]]:
    """Records in lists of ``size`` (the last shorter), read lazily."""
    iterator = iter(records)
    while rows := list(islice(iterator, size)):
        yield rows


def item_metadata(item: Item) -> dict[str, Any]:
    """The user metadata of an item (``{}`` for items indexed before there was any)."""
    return dict(item.meta or {})


def export_records(
    database: Database, store: VectorStore, collection: str, batch: int = EXPORT_BATCH
) -> Iterator[ExportRecord]:
    """Every indexed item of the collection, oldest first, a database page and a store
    ``retrieve`` per ``batch`` items (items deleted meanwhile are left out)."""
    with database.session() as session:
        row = repository.get_collection(session, collection)
        collection_id = row.id
        current = versions.current_version(session, row)  # searches read this version
        target = collection if current is None else current.store_name
        model = str(versions.collection_identity(session, row) or "")
    after = -1
    while True:
        with database.session() as session:
            items = list(
                session.scalars(
                    select(Item)
                    .where(
                        Item.collection_id == collection_id,
                        Item.status == ItemStatus.INDEXED,
                        Item.id > after,
                    )
                    .order_by(Item.id)
                    .limit(batch)
                )
            )
        if not items:
            return
        after = items[-1].id
        stored = {s.id: s for s in store.retrieve(target, [i.id for i in items])}
        for item in items:
            found = stored.get(item.id)
            if found is None:
                continue
            yield ExportRecord(
                id=item.id,
                path=str(found.payload.get("path", item.source_uri)),
                sha256=item.sha256,
                payload=found.payload,
                metadata=item_metadata(item),
                vectors=found.vectors,
                model=model,
                parts=dict(item.parts or {"rgb": item.source_uri}),
            )


def jsonl_lines(records: Iterable[ExportRecord]) -> Iterator[str]:
    """One JSON object per record, each ending with a newline."""
    for record in records:
        yield json.dumps(record.as_json(), separators=(",", ":")) + "\n"


def _pyarrow() -> Any:
    """pyarrow, or one line saying how to install it (the ``export`` extra)."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise MissingExtraError(
            "Parquet export needs pyarrow: pip install 'anyseek[export]' (or use --format jsonl)"
        ) from None
    return pyarrow


def write_export(records: Iterable[ExportRecord], path: Path, format: ExportFormat) -> int:
    """Write records to ``path`` as JSON lines or Parquet; how many were written."""
    if format == "jsonl":
        count = 0
        with path.open("w", encoding="utf-8") as out:
            for line in jsonl_lines(records):
                out.write(line)
                count += 1
        return count
    if format == "parquet":
        return _write_parquet(records, path)
    raise AnyseekError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")


def _write_parquet(records: Iterable[ExportRecord], path: Path, batch: int = EXPORT_BATCH) -> int:
    """Parquet: scalar columns, payload and metadata as JSON text, one float32 list per space."""
    pa = _pyarrow()
    import pyarrow.parquet as pq

    writer, count = None, 0
    try:
        for rows in batched(records, batch):
            table = _table(pa, list(rows))
            writer = writer or pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table)
            count += len(rows)
        if writer is None:  # nothing to export: an empty file with the fixed columns
            pq.write_table(_table(pa, []), str(path))
    finally:
        if writer is not None:
            writer.close()
    return count


def _table(pa: Any, rows: list[ExportRecord]) -> Any:
    """One Parquet row group of records."""
    spaces = sorted(rows[0].vectors) if rows else []
    columns = {
        "id": pa.array([r.id for r in rows], pa.int64()),
        "key": pa.array([r.key for r in rows], pa.string()),
        "modalities": pa.array([r.modalities for r in rows], pa.list_(pa.string())),
        "parts": pa.array([json.dumps(r.parts) for r in rows], pa.string()),
        "path": pa.array([r.path for r in rows], pa.string()),
        "sha256": pa.array([r.sha256 for r in rows], pa.string()),
        "payload": pa.array([json.dumps(r.payload) for r in rows], pa.string()),
        "metadata": pa.array([json.dumps(r.metadata) for r in rows], pa.string()),
        "model": pa.array([r.model for r in rows], pa.string()),
    }
    for space in spaces:
        columns[f"vector.{space}"] = pa.array(
            [r.vectors[space].astype(np.float32) for r in rows], pa.list_(pa.float32())
        )
    return pa.table(columns)


def read_export(path: Path) -> Iterator[ExportRecord]:
    """The records of an export file (``.parquet`` by its suffix, else JSON lines)."""
    if path.suffix == ".parquet":
        _pyarrow()
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(str(path)).iter_batches():
            for row in batch.to_pylist():
                yield ExportRecord(
                    id=row["id"],
                    path=row["path"],
                    sha256=row["sha256"],
                    payload=json.loads(row["payload"]),
                    metadata=json.loads(row["metadata"]),
                    vectors={
                        k.removeprefix("vector."): np.asarray(v, dtype=np.float32)
                        for k, v in row.items()
                        if k.startswith("vector.")
                    },
                    model=row["model"],
                    parts=json.loads(row.get("parts") or "{}"),
                )
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield ExportRecord.from_json(json.loads(line))


def import_records(
    store: VectorStore, collection: str, records: Iterable[ExportRecord], batch: int = 256
) -> int:
    """Upsert exported records into a store collection (which must have their spaces), keeping
    ids, vectors and payloads; how many were written."""
    count = 0
    for rows in batched(records, batch):
        spaces = sorted(rows[0].vectors)
        vectors = {s: np.stack([r.vectors[s] for r in rows]) for s in spaces}
        store.upsert(collection, [r.id for r in rows], vectors, [r.payload for r in rows])
        count += len(rows)
    store.flush()
    return count
