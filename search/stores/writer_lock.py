"""Who holds a store's writer: the process that takes a FAISS folder's writer lock leaves a note
about itself in the lock file (pid, role, URL), so a process refused the lock can say who writes
and send its change there instead (``anyseek collections rollback`` through a running server).

A process says what it is once, at start-up (:func:`announce`: ``anyseek serve`` a server with its
URL, the Celery writer worker a worker); anything else is a command.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from anyseek.errors import ServiceUnavailableError

SERVER, WORKER, COMMAND = "server", "writer worker", "command"


@dataclass(frozen=True)
class WriterHolder:
    """The process holding a store's writer, as its note says."""

    pid: int
    role: str = COMMAND
    url: str | None = None

    def describe(self) -> str:
        """For messages: ``a server (pid 4242, http://127.0.0.1:8000)``."""
        where = f", {self.url}" if self.url else ""
        return f"{'an' if self.role[0] in 'aeiou' else 'a'} {self.role} (pid {self.pid}{where})"


@dataclass(frozen=True)
class _Role:
    """What this process announced itself as (its pid is read when the note is written)."""

    role: str = COMMAND
    url: str | None = None


_this_process = _Role()


def announce(role: str, url: str | None = None) -> None:
    """Say what this process is, for the note it leaves when it becomes a store's writer."""
    global _this_process
    _this_process = _Role(role, url)


def record(handle: IO[str]) -> None:
    """Write this process's note into the lock file it has just locked (replacing the last)."""
    holder = WriterHolder(os.getpid(), _this_process.role, _this_process.url)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(asdict(holder)))
    handle.flush()


def read_holder(lock_file: Path) -> WriterHolder | None:
    """The note in a lock file; None when there is none (or a writer too old to leave one)."""
    try:
        note = json.loads(lock_file.read_text() or "null")
        return WriterHolder(int(note["pid"]), str(note["role"]), note.get("url") or None)
    except (OSError, ValueError, TypeError, KeyError):
        return None


class WriterBusyError(ServiceUnavailableError):
    """Another process holds the store's writer; ``holder`` says which, when it left a note."""

    def __init__(self, folder: Path, holder: WriterHolder | None) -> None:
        self.folder, self.holder = folder, holder
        who = f"another process, {holder.describe()}" if holder else "another process"
        super().__init__(
            f"FAISS folder {folder} is being written by {who}; one process writes a FAISS store "
            "(use a Qdrant server for several writers)"
        )
