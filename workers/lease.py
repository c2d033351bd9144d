"""Which worker runs the watchdog: the one holding the deployment's watchdog lease.

Every worker starts a watchdog thread (with a Qdrant server there is no writer worker, and a
deployment of index workers alone must still find lost chunks); only the holder of the lease
sweeps, so a chunk is not sent again by several at once. On PostgreSQL the lease is a
session-level advisory lock (its key from the database and schema, so deployments that share a
server do not share it) held on a connection of its own: when its worker dies or the database
restarts, the lock goes with the connection and another worker takes it at its next sweep. On
SQLite (one machine) it is a lock on a file in the data directory, freed by the kernel likewise.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from typing import IO

from sqlalchemy import Connection, text

from anyseek.db.session import Database
from anyseek.settings import Settings

log = logging.getLogger(__name__)
KEY_SQL = "hashtext(current_database() || '.' || current_schema() || '.anyseek-watchdog')"
APPLICATION = "anyseek-watchdog"  # with the worker's pid: pg_stat_activity says who holds it
IDLE_SESSION_S = 60
"""The lease connection is used at every watchdog sweep (15 s); one idle for longer belongs to a
frozen worker (SIGSTOP, a paused VM), and PostgreSQL 14+ ends it, freeing the lease for another."""


class WatchdogLease:
    """Held by at most one worker of a deployment at a time; :meth:`held` also tries to take it."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.database = database
        self.lock_file = settings.data_dir / "watchdog.lock"
        self._connection: Connection | None = None
        self._file: IO[str] | None = None

    def held(self) -> bool:
        """Whether this process holds the lease now (taking it when it is free)."""
        if self.database.engine.dialect.name == "postgresql":
            return self._advisory()
        return self._flock()

    def _advisory(self) -> bool:
        if self._connection is not None:
            try:  # a dead connection (database restarted) has lost the lock with it
                self._connection.execute(text("SELECT 1"))
                return True
            except Exception:
                self.release()
        connection = self.database.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"  # no transaction left open while it is held
        )
        try:  # named first, so that the lock is never seen held by a nameless connection
            connection.execute(text(f"SET application_name = '{APPLICATION} {os.getpid()}'"))
            if connection.dialect.server_version_info >= (14,):
                connection.execute(text(f"SET idle_session_timeout = {IDLE_SESSION_S * 1000}"))
            taken = connection.execute(text(f"SELECT pg_try_advisory_lock({KEY_SQL})")).scalar()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        self._connection = connection
        log.info("this worker (pid %s) runs the watchdog", os.getpid())
        return True

    def _flock(self) -> bool:
        if self._file is not None:
            return True
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_file.open("a")
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        log.info("this worker (pid %s) runs the watchdog", os.getpid())
        return True

    def release(self) -> None:
        """Give the lease up (closing its connection or file frees it)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):  # already dead: nothing to give back
                self._connection.close()
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None
