"""A FAISS collection as one process holds it: its spaces' indexes, payloads, and the changes made
since the last flush, applied the same way when made and when replayed from segments."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from search.stores.base import SpaceSpec
from search.stores.faiss_index import SpaceIndex
from search.stores.payloads import PayloadTable
from search.stores.segments import Op, Pointer


@dataclass
class LoadedCollection:
    """A loaded collection: its spaces, their indexes and the payload table."""

    name: str
    folder: Path
    spaces: tuple[SpaceSpec, ...]
    indexes: dict[str, SpaceIndex]
    payloads: PayloadTable
    generation: int = 0
    files: dict[str, Path] = field(default_factory=dict)
    journal: list[Op] = field(default_factory=list)  # changes since the last flush, in order
    segments: int = 0  # committed segments on top of the generation's base files
    segment_rows: int = 0
    base_count: int = 0  # items in the generation's base files
    epoch: str = ""  # made with the collection (``Pointer.epoch``); "" in older stores

    @property
    def dirty(self) -> bool:
        """Whether something changed since the last flush."""
        return bool(self.journal)

    @property
    def pointer(self) -> Pointer:
        """What ``CURRENT`` says for the state this process has committed or loaded."""
        return Pointer(f"gen-{self.generation:08d}", self.segments, self.epoch)

    def apply(self, op: Op) -> None:
        """Make one (validated) change in memory: what a write does, and what replaying does."""
        if op.kind == "upsert":
            self.payloads.upsert(op.ids.tolist(), list(op.values))
            for name, index in self.indexes.items():
                if name in op.vectors:
                    index.upsert(op.ids, op.vectors[name])
                else:
                    index.remove(op.ids)
        elif op.kind == "delete":
            for item in op.ids.tolist():
                self.payloads.remove(item)
            for index in self.indexes.values():
                index.remove(op.ids)
        else:
            self.payloads.set_metadata(op.ids.tolist(), list(op.values))

    def record(self, op: Op) -> None:
        """Apply a change and keep it for the next flush."""
        self.apply(op)
        self.journal.append(op)
