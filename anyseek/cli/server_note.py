"""Which server serves this data directory: ``anyseek serve`` leaves a note in it (its pid and
the URL a command on this machine reaches it at) while it runs, so ``anyseek search`` asks that
server and no other (whatever answers on 127.0.0.1:8000 may hold another data directory).

A note whose process is gone (a server killed with ``kill -9``) is stale and read as none.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

NOTE = "server.json"  # in the data directory


@dataclass(frozen=True)
class ServerNote:
    """The server serving a data directory, as its note says."""

    pid: int
    url: str


def leave_note(data_dir: Path, url: str) -> Path:
    """Say that this process serves ``data_dir`` at ``url``; the note's path (remove it at exit)."""
    path = data_dir / NOTE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(ServerNote(os.getpid(), url))))
    return path


def remove_note(path: Path) -> None:
    """Remove this process's note (a later server's note is left alone)."""
    note = _read(path)
    if note is not None and note.pid == os.getpid():
        path.unlink(missing_ok=True)


def serving(data_dir: Path) -> ServerNote | None:
    """The live server that serves ``data_dir``; None when no note or its process is gone."""
    note = _read(data_dir / NOTE)
    return note if note is not None and process_alive(note.pid) else None


def _read(path: Path) -> ServerNote | None:
    """The note at ``path``; None when there is none or it is not one."""
    try:
        body = json.loads(path.read_text())
        return ServerNote(int(body["pid"]), str(body["url"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user counts: it exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and is not ours to signal
        pass
    return True
