"""``python kill_indexer.py SOURCE COLLECTION WHEN N``: index SOURCE (settings from ANYSEEK_*)
and SIGKILL this process at the Nth database commit, just before it (``before``: mid-transaction)
or just after it (``after``); ``count`` kills nothing and prints how many commits a run makes."""

from __future__ import annotations

import os
import signal
import sys

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from anyseek.indexer import run_index
from anyseek.settings import load_settings


def main(source: str, collection: str, when: str, n: int) -> None:
    """Run the indexer with the kill hook installed."""
    seen = 0

    def tick(*_: object) -> None:
        nonlocal seen
        seen += 1
        if seen == n:
            os.kill(os.getpid(), signal.SIGKILL)

    if when in ("before", "count"):
        event.listen(Engine, "commit", tick)
    else:
        event.listen(Session, "after_commit", tick)
    run_index(load_settings(), collection, source)
    print(f"commits={seen}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
