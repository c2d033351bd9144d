"""Files of a FAISS collection on disk, written crash-safely: atomic small files, fsyncs, hard
links of unchanged files between generations, and clean-up after a killed writer."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np

from search.stores.durable import fsync_path
from search.stores.faiss_index import SpaceIndex
from search.stores.segments import Pointer, stray_segments

CURRENT = "CURRENT"


def remove_stale_generations(folder: Path) -> None:
    """Delete temporary and superseded generation folders of one collection."""
    with contextlib.suppress(FileNotFoundError):
        committed = Pointer.parse((folder / CURRENT).read_text())
        for child in folder.iterdir():
            if child.is_dir() and child.name != committed.generation:
                shutil.rmtree(child, ignore_errors=True)
        for stray in stray_segments(folder / committed.generation, committed.segments):
            stray.unlink(missing_ok=True)


def write_or_link(target: Path, previous: Path | None, changed: bool, write) -> Path:
    """Write a file afresh and fsync it, or hard-link the unchanged one of the last generation."""
    if not changed and previous is not None and previous.exists():
        try:
            os.link(previous, target)
            return target
        except OSError:  # a file system without hard links: copy instead
            shutil.copyfile(previous, target)
    else:
        write(target)
    fsync_path(target)
    return target


def save_ids(path: Path, index: SpaceIndex) -> None:
    """Positions-to-ids map and live flags of one space index."""
    with open(path, "wb") as handle:
        np.savez(handle, labels=index.labels, alive=index.alive)
