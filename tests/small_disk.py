"""A small file system of a test's own (tmpfs), and a filler file that makes it full: the
full-disk faults of issue 40."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILLER = ".filler"
CHUNK = 64 * 1024


class MountRefused(Exception):
    """This process may not mount a file system (not root, or no mount in this sandbox)."""


@contextmanager
def small_disk(folder: Path, size_mb: int) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size_mb`` MiB, unmounted (and its content gone) on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}M", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise MountRefused(f"cannot mount a tmpfs at {folder}: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, timeout=30)


def fill(folder: Path) -> Path:
    """Write a filler file until the file system of ``folder`` is full; the filler's path."""
    filler = folder / FILLER
    with open(filler, "wb", buffering=0) as handle:
        for size in (CHUNK, 4096, 1):  # then the last partial pages
            block = b"\0" * size
            try:
                while handle.write(block):
                    pass
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    return filler


def free(filler: Path) -> None:
    """Delete the filler: the file system has room again."""
    filler.unlink()
    os.sync()
