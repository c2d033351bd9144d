"""Engines and sessions built from the settings; connection failures become user errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from anyseek.errors import ServiceUnavailableError, SettingsError
from anyseek.settings import Settings

DATABASE_URL_VARIABLE = "ANYSEEK_DATABASE_URL"
CONNECT_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_S = 30


def parse_url(url: str) -> URL:
    """Parse a database URL, naming the setting when it is malformed."""
    try:
        return make_url(url)
    except exc.ArgumentError as error:
        raise SettingsError(f"{DATABASE_URL_VARIABLE}: {error}") from None


def display_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    parsed = parse_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def sqlite_file(url: URL) -> Path | None:
    """The database file of an SQLite URL, or None for other backends and in-memory databases."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database)


def make_dir(path: Path, purpose: str) -> None:
    """Create a folder (and its parents) or say in one line why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SettingsError(
            f"cannot create the folder {path} for {purpose} (see ANYSEEK_DATA_DIR and "
            f"{DATABASE_URL_VARIABLE}): {error.strerror or error}"
        ) from None


def make_engine(url: str, *, create_dirs: bool = False) -> Engine:
    """An engine for ``url``: foreign keys on for SQLite, a connect timeout for servers.

    ``create_dirs`` makes the folder of an SQLite file (only commands that initialise the database
    should create anything on disk).
    """
    parsed = parse_url(url)
    connect_args: dict[str, object] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
        path = sqlite_file(parsed)
        if create_dirs and path is not None:
            make_dir(path.parent, "the SQLite database")
    elif backend == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (exc.NoSuchModuleError, ModuleNotFoundError) as error:
        raise SettingsError(
            f"{DATABASE_URL_VARIABLE}: no driver for {parsed.drivername!r} ({error})"
        ) from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Enforce foreign keys (ON DELETE CASCADE) on every SQLite connection (SQLite defaults off),
    and take transaction control from the driver (see :func:`_sqlite_begin`)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.isolation_level = None  # the driver emits no BEGIN/COMMIT of its own


def _sqlite_begin(connection: Any) -> None:
    """Start every SQLite transaction ourselves, as SQLAlchemy documents for pysqlite.

    The driver alone begins a transaction only at the first INSERT/UPDATE, so a SAVEPOINT issued
    before it (``begin_nested``) ran outside any transaction and its RELEASE committed on the
    spot: the first item of each chunk was written apart from its vectors and was lost when
    indexing was killed (issue 24). ``BEGIN IMMEDIATE`` also takes the write lock up front,
    which is what the row locks (``with_for_update``) mean on PostgreSQL: two writers queue
    (``timeout``) instead of one failing with "database is locked" when it upgrades a read.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def unreachable(engine: Engine, error: exc.DBAPIError) -> ServiceUnavailableError:
    """A one-line user error for a database that cannot be connected to."""
    reason = re.sub(r"\s+", " ", str(error.orig or error)).strip()
    return ServiceUnavailableError(
        f"cannot connect to the database {display_url(engine.url)}: {reason}"
    )


@dataclass(frozen=True)
class Database:
    """An engine and its session factory; create one per process with :func:`database_for`."""

    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._reachable(), self.sessions.begin() as session:
            yield session

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session for one unit of work (an API request) that may commit along the way, e.g.
        before handing a job to another thread; the rest is committed at the end, or rolled
        back on any error."""
        with self._reachable(), self.sessions() as session:
            yield session
            session.commit()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """A lost connection becomes a one-line :class:`ServiceUnavailableError`."""
        try:
            yield
        except exc.OperationalError as error:
            if error.connection_invalidated or error.statement is None:  # lost, not a bad query
                raise unreachable(self.engine, error) from None
            raise

    def dispose(self) -> None:
        """Close pooled connections (end of a CLI command, end of a test)."""
        self.engine.dispose()


def database_from_url(url: str, *, create_dirs: bool = False) -> Database:
    """A :class:`Database` for an explicit URL (tests, tools)."""
    engine = make_engine(url, create_dirs=create_dirs)
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def database_for(settings: Settings, *, create_dirs: bool = False) -> Database:
    """The :class:`Database` named by the settings (default: SQLite file in the data directory)."""
    return database_from_url(settings.effective_database_url, create_dirs=create_dirs)
