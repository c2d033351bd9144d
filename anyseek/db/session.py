"""Engines and sessions built from the settings; connection failures become user errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from anyseek.errors import ServiceUnavailableError, SettingsError
from anyseek.settings import Settings

DATABASE_URL_VARIABLE = "ANYSEEK_DATABASE_URL"
CONNECT_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_S = 30
POOL_TIMEOUT_S = 10
READ_ONLY = "anyseek_read_only"  # execution option of the connections of Database.reading
"""Longest a session waits for a pooled connection (SQLAlchemy: 30 s) before it is a 503: the
pool is empty only when every connection hangs on a database that stopped answering."""
#: libpq's TCP settings for PostgreSQL (docs/database.md): an idle connection whose server went
#: silent is found dead after 10 + 3 x 5 = 25 s of unanswered keepalives, a query whose packets
#: go unacknowledged for 20 s fails, so no process waits forever on a dead link
POSTGRES_TCP = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,  # milliseconds
}
#: SQLSTATE classes a retry cures: 08 connection exception, 53 insufficient resources (disk
#: full, out of memory, too many connections), 57P operator intervention (shut down, restarting),
#: 25P03 a session ended by idle_in_transaction_session_timeout (a worker that was frozen)
TRANSIENT_SQLSTATES = ("08", "53", "57P", "25P03")


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
    """An engine for ``url``: foreign keys on for SQLite; for PostgreSQL a connect timeout and
    TCP keepalives (:data:`POSTGRES_TCP`) unless the URL sets them; a bounded pool wait.

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
    elif backend == "postgresql":
        given = {"connect_timeout": CONNECT_TIMEOUT_S, **POSTGRES_TCP}
        connect_args.update({k: v for k, v in given.items() if k not in parsed.query})
    # a server's connection may have gone away since its last use: ping it before each use; an
    # SQLite file cannot, and its ping was one more statement on every search's one read
    ping = backend != "sqlite"
    try:
        engine = create_engine(
            parsed, connect_args=connect_args, pool_pre_ping=ping, pool_timeout=POOL_TIMEOUT_S
        )
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
    A connection opened by :meth:`Database.reading` begins a plain (deferred) transaction: a read
    takes no write lock, so searches neither queue behind a writer's lock nor hold one.
    """
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def unreachable(engine: Engine, error: exc.SQLAlchemyError) -> ServiceUnavailableError:
    """A one-line user error for a database that cannot be connected to, or went away."""
    text = str(getattr(error, "orig", None) or error).split("\nLINE ")[0]  # not the statement
    reason = re.sub(r"\s+", " ", text).strip()
    if isinstance(error, exc.TimeoutError):
        what = f"no connection to the database {display_url(engine.url)} came free in time"
    elif isinstance(error, exc.DBAPIError) and error.statement is not None:
        what = f"lost the connection to the database {display_url(engine.url)}"
    else:
        what = f"cannot connect to the database {display_url(engine.url)}"
    return ServiceUnavailableError(f"{what}: {reason}")


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error says the database is away (down, restarting, unreachable, out
    of connections or of disk) rather than that a statement is wrong: a retry may succeed."""
    if isinstance(error, exc.TimeoutError):  # the pool had no connection free in time
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated or error.statement is None:  # lost, or never connected
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    if sqlstate.startswith(TRANSIENT_SQLSTATES):
        return True
    # psycopg's "the connection is closed": a connection that died before this statement
    return isinstance(error, exc.InterfaceError) and "closed" in str(error.orig)


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
    def reading(self) -> Iterator[Connection]:
        """A Core connection for reads only, in one transaction (SQLite: deferred, no write
        lock): the search path's one read per request (``anyseek.search.resolve``)."""
        with self._reachable(), self.engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield connection

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
        """A database that is away (:func:`is_unavailable`) becomes a one-line
        :class:`ServiceUnavailableError`; a wrong statement stays what it is."""
        try:
            yield
        except (exc.DBAPIError, exc.TimeoutError) as error:
            if is_unavailable(error):
                raise unreachable(self.engine, error) from None
            raise

    def dispose(self) -> None:
        """Close pooled connections (end of a CLI command, end of a test)."""
        self.engine.dispose()


@dataclass(frozen=True)
class SessionTimeouts:
    """PostgreSQL session limits, in seconds (0 = none): how long a statement waits for a row
    lock, how long a statement may run, and how long a transaction may sit idle before the
    server ends the session, which frees every lock it held (a frozen process's included)."""

    lock_s: float = 0
    statement_s: float = 0
    idle_in_transaction_s: float = 0

    def statements(self) -> list[str]:
        """The ``SET`` statements that give a new connection these limits."""
        limits = {
            "lock_timeout": self.lock_s,
            "statement_timeout": self.statement_s,
            "idle_in_transaction_session_timeout": self.idle_in_transaction_s,
        }
        return [f"SET {name} = {round(seconds * 1000)}" for name, seconds in limits.items()]


def with_timeouts(database: Database, timeouts: SessionTimeouts) -> Database:
    """Give every new PostgreSQL connection of ``database`` the ``timeouts`` (SQLite has no
    such limits: its writers queue on one file lock, bounded by its busy timeout)."""
    if database.engine.dialect.name != "postgresql":
        return database

    def limit(dbapi_connection: Any, _record: Any) -> None:
        """Set the limits on a fresh connection, committed so that they last its life."""
        for statement in timeouts.statements():
            dbapi_connection.execute(statement)
        dbapi_connection.commit()

    event.listen(database.engine, "connect", limit)
    database.engine.dispose()  # connections opened before (the schema check) lack the limits
    return database


def database_from_url(url: str, *, create_dirs: bool = False) -> Database:
    """A :class:`Database` for an explicit URL (tests, tools)."""
    engine = make_engine(url, create_dirs=create_dirs)
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def database_for(settings: Settings, *, create_dirs: bool = False) -> Database:
    """The :class:`Database` named by the settings (default: SQLite file in the data directory)."""
    return database_from_url(settings.effective_database_url, create_dirs=create_dirs)
