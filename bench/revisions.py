"""An earlier revision of this repository checked out beside it, for benches that measure the
two in one run on one machine (``bench/search.py``, ``bench/indexing.py --baseline-rev``)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def baseline_tree(rev: str) -> Path:
    """A temporary git worktree of ``rev`` (removed by :func:`remove_tree`)."""
    folder = Path(tempfile.mkdtemp(prefix="anyseek-baseline-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
        check=True,
        capture_output=True,
    )
    return folder


def remove_tree(folder: Path) -> None:
    """Remove a worktree :func:`baseline_tree` made."""
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False
    )
