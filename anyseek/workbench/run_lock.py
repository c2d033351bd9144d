"""One training run per run folder: the process that runs it holds a lock file there.

Two ``anyseek train default --out DIR`` at once would render into the same cache and write the
same checkpoints. The first takes an exclusive lock on ``DIR/.train.lock`` and leaves a note (pid,
start time, command); a second is refused naming it. The kernel releases the lock when the holder
exits or is killed, so a stale file never blocks a ``--resume``. It is a POSIX record lock
(``lockf``), not ``flock``: an ``flock`` goes with the file to forked children (the render pool),
which would keep a killed run's folder locked for as long as they live.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from anyseek.errors import AnyseekError

LOCK_NAME = ".train.lock"


class RunBusyError(AnyseekError):
    """Another process runs the training run in this folder."""


@contextmanager
def hold_run(out: Path, command: str) -> Iterator[None]:
    """Hold ``out``'s run lock while the block runs, or raise :class:`RunBusyError` naming the
    process that holds it."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    with path.open("a+") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EAGAIN or EACCES: held by another process
            raise RunBusyError(
                f"{out} is being trained by {_holder(path)}: "
                "wait for it to end or stop it, or choose another --out"
            ) from None
        note = {"pid": os.getpid(), "started": datetime.now(UTC).isoformat(timespec="seconds")}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(note | {"command": command}))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)  # the note goes with the lock; the file stays (no unlink race)


def _holder(path: Path) -> str:
    """The note of the run holding the lock: ``pid 42 (started 2026-12-03T10:00:00+00:00)``."""
    try:
        note = json.loads(path.read_text())
        return f"pid {note['pid']} (started {note['started']}, {note['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
