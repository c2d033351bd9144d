"""Append-only segments of a FAISS collection: the changes of one flush, written as one small file.

Rewriting a collection's whole index and payload files on every flush costs O(collection) per
batch: at a million items a 512-item batch paid for gigabytes of writes. Instead a flush appends
its changes (the operations in the order they were made) as ``seg-NNNNNN.npz`` inside the
committed pack folder; loading replays them on top of the pack's files, and once
the segments hold enough rows the store writes a whole new pack again (compaction).

A segment becomes part of the collection only when ``CURRENT`` names it (``gen-00000007 3``: the
pack and how many of its segments are committed), so a segment written by a process killed
before that rename is ignored and removed by the next writer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from anyseek.search.stores.durable import fsync_path

OpKind = Literal["upsert", "delete", "metadata"]
SEGMENT_GLOB = "seg-*.npz"


@dataclass(frozen=True)
class Op:
    """One change as the store received it (validated): replaying them in order rebuilds it."""

    kind: OpKind
    ids: np.ndarray  # [n] int64
    vectors: Mapping[str, np.ndarray] = field(default_factory=dict)  # space -> [n, dim] (upsert)
    values: Sequence[Mapping[str, Any]] = ()  # payloads (upsert) or metadata objects (metadata)

    @property
    def rows(self) -> int:
        """How many items the change touches: what a segment's size is counted in."""
        return len(self.ids)


@dataclass(frozen=True)
class Pointer:
    """What ``CURRENT`` says: the committed pack folder, how many segments of it count, and
    the collection's epoch (made when the collection is created: one dropped and made again by
    another process restarts at the same pack name, and only the epoch tells them apart)."""

    pack: str
    segments: int = 0
    epoch: str = ""

    @classmethod
    def parse(cls, text: str) -> Pointer:
        """Read ``gen-00000007`` (older stores), ``gen-00000007 3`` or ``gen-00000007 3 e5f0``."""
        name, count, epoch = ([*text.split(), "", ""])[:3]
        return cls(name, int(count) if count else 0, epoch)

    def __str__(self) -> str:
        if self.epoch:
            return f"{self.pack} {self.segments} {self.epoch}"
        return self.pack if not self.segments else f"{self.pack} {self.segments}"


def pack_name(number: int) -> str:
    """``gen-00000007``: the one place a pack folder's name is spelled."""
    return f"gen-{number:08d}"


def pack_number_of(name: str) -> int:
    """The number in a pack folder's name (``gen-00000007`` -> 7)."""
    return int(name.rsplit("-", 1)[-1])


def segment_path(folder: Path, number: int) -> Path:
    """``<pack folder>/seg-000003.npz``: the one place a segment's name is spelled."""
    return folder / f"seg-{number:06d}.npz"


def write_segment(path: Path, ops: Sequence[Op]) -> None:
    """Write operations into one segment file, durably (temp file, fsync, rename, fsync folder)."""
    arrays: dict[str, np.ndarray] = {}
    header = []
    for n, op in enumerate(ops):
        arrays[f"{n}.ids"] = np.ascontiguousarray(op.ids, np.int64)
        for space, matrix in op.vectors.items():
            arrays[f"{n}.v.{space}"] = np.ascontiguousarray(matrix, np.float32)
        header.append({"kind": op.kind, "spaces": sorted(op.vectors), "values": list(op.values)})
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def read_segment(path: Path) -> list[Op]:
    """The operations of one segment file, in the order they were made."""
    with np.load(path) as data:
        header = json.loads(data["header"].tobytes())
        return [
            Op(
                entry["kind"],
                data[f"{n}.ids"],
                {space: data[f"{n}.v.{space}"] for space in entry["spaces"]},
                entry["values"],
            )
            for n, entry in enumerate(header)
        ]


def stray_segments(folder: Path, committed: int) -> list[Path]:
    """Segment files (and temp files) of a pack that ``CURRENT`` does not count."""
    keep = {segment_path(folder, n).name for n in range(1, committed + 1)}
    return [
        p
        for p in folder.iterdir()
        if (p.match(SEGMENT_GLOB) and p.name not in keep) or p.name.startswith(".seg-")
    ]
