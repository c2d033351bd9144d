"""Has anything been committed to the database since I last looked? A token that says so cheaply.

A search reads its collection's current version from the database (``anyseek.search.resolve``).
Between two searches that row rarely changes, so a reader may keep what it read while
:class:`ChangeToken` gives the same token: for an SQLite file that is ``PRAGMA data_version``, which
changes whenever any other connection, in this process or another, commits to the file (no
statement is parsed and no table is read: a few microseconds, against a fraction of a
millisecond for the read it saves). A server database (PostgreSQL) has no such counter here, so
its token is None: the caller reads every time.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import Engine

from anyseek.db.session import sqlite_file


class ChangeToken:
    """``token()`` -> a value that differs after any commit to the database since it was last
    given, or None when it cannot tell (not an SQLite file, or the file cannot be opened)."""

    def __init__(self, engine: Engine) -> None:
        self.path = sqlite_file(engine.url)
        self.lock = threading.Lock()  # one connection: its data_version is per connection
        self.connection: sqlite3.Connection | None = None

    def __call__(self) -> int | None:
        """The file's data version as this watch's own connection sees it (it never writes, so
        every commit is another connection's), or None."""
        if self.path is None:
            return None
        with self.lock:
            try:
                if self.connection is None:
                    self.connection = _read_only(self.path)
                return self.connection.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                self._forget()
                return None

    def _forget(self) -> None:
        """Drop the connection (the next call opens another)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def close(self) -> None:
        """Close the watch's connection."""
        with self.lock:
            self._forget()


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only, autocommit connection to an SQLite file that must exist."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
