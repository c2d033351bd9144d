"""Alembic driven from code: upgrade, downgrade, and "is this database at the code's revision?".

Opening the database (:func:`open_database`) migrates the embedded SQLite default on first use;
a PostgreSQL database is migrated only by ``anyseek db upgrade``.

No ``alembic.ini`` is needed: the Alembic config is built here from the database the settings name,
and the migration scripts are found inside the installed ``migrations`` package. That package sits
above this one (its scripts import ``anyseek.db.models``), so it is located, never imported, here:
Alembic runs the scripts itself.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import exc
from sqlalchemy.orm import Session

from anyseek.db.session import Database, database_for, display_url, sqlite_file, unreachable
from anyseek.errors import AnyseekError
from anyseek.settings import Settings

MIGRATIONS_DIR = Path(importlib.util.find_spec("anyseek.migrations").origin).resolve().parent
UPGRADE_HINT = "run `anyseek db upgrade`"


class SchemaError(AnyseekError):
    """The database is not at the schema revision this version of anyseek expects."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database is (``current``) against where the code is (``head``)."""

    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        """Whether the database needs no migration."""
        return self.current == self.head


def alembic_config(database: Database | None = None) -> Config:
    """An Alembic config pointing at our scripts; with a database, migrations run on its engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database is not None:
        config.attributes["engine"] = database.engine
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    """The migration scripts shipped with this version of anyseek (read once per process)."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision the code knows."""
    head = scripts().get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def known_revisions() -> set[str]:
    """Every revision id in the migrations folder."""
    return {script.revision for script in scripts().walk_revisions()}


def schema_state(database: Database) -> SchemaState:
    """Read the database's revision (None when never migrated) without changing anything."""
    path = sqlite_file(database.engine.url)
    if path is not None and not path.exists():  # do not create an empty file by looking
        return SchemaState(current=None, head=head_revision())
    try:
        with database.engine.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    except exc.OperationalError as error:
        raise unreachable(database.engine, error) from None
    return SchemaState(current=heads[0] if heads else None, head=head_revision())


def schema_problem(state: SchemaState, where: str) -> str | None:
    """What is wrong with a database at ``state`` and what to do about it; None when current."""
    if state.is_current:
        return None
    if state.current is None:
        return f"the database {where} is not initialised: {UPGRADE_HINT}"
    if state.current not in known_revisions():
        return (
            f"the database {where} is at revision {state.current}, which this version of anyseek "
            f"does not know (it expects {state.head}); upgrade anyseek or use another database"
        )
    return (
        f"the database {where} is at revision {state.current} but anyseek needs {state.head}: "
        f"{UPGRADE_HINT}"
    )


def require_current(database: Database) -> SchemaState:
    """Raise a :class:`SchemaError` telling the user what to do unless the schema is up to date."""
    state = schema_state(database)
    problem = schema_problem(state, display_url(database.engine.url))
    if problem is not None:
        raise SchemaError(problem)
    return state


def upgrade(database: Database, revision: str = "head") -> SchemaState:
    """Migrate the database up to ``revision`` (creating it when new); returns the new state."""
    _run(command.upgrade, database, revision)
    return schema_state(database)


def downgrade(database: Database, revision: str) -> SchemaState:
    """Migrate the database down to ``revision`` (``base`` drops every table); returns the state."""
    _run(command.downgrade, database, revision)
    return schema_state(database)


def _run(action: Callable[[Config, str], None], database: Database, revision: str) -> None:
    """Run an Alembic command, turning its errors into one-line user errors."""
    state = schema_state(database)
    if state.current is not None and state.current not in known_revisions():
        raise SchemaError(schema_problem(state, display_url(database.engine.url)))
    try:
        action(alembic_config(database), revision)
    except CommandError as error:
        raise SchemaError(f"cannot migrate to {revision!r}: {error}") from None
    except exc.DBAPIError as error:  # e.g. read-only file, missing privileges; rolled back
        if error.statement is None:
            raise unreachable(database.engine, error) from None
        reason = " ".join(str(error.orig or error).split())
        raise SchemaError(f"migrating to {revision!r} failed: {reason}") from None


def migrates_on_first_use(database: Database) -> bool:
    """Whether opening ``database`` brings its schema up to date by itself: the embedded SQLite
    default belongs to this installation alone, while a server database (PostgreSQL) is shared,
    backed up and migrated by its operator with ``anyseek db upgrade``."""
    return database.engine.url.get_backend_name() == "sqlite"


def ensure_current(database: Database) -> SchemaState:
    """Create or migrate an embedded database to the code's head; any other database must already
    be there (else a :class:`SchemaError` saying to run ``anyseek db upgrade``)."""
    if not migrates_on_first_use(database):
        return require_current(database)
    if not schema_state(database).is_current:
        # Processes starting together (``anyseek serve`` and its workers) queue on SQLite's
        # write lock (every transaction is BEGIN IMMEDIATE); Alembic reads the revision inside
        # it, so the first migrates and the others find nothing left to do. A revision this
        # code does not know is refused, not touched.
        upgrade(database)
    return require_current(database)


def open_database(settings: Settings) -> Database:
    """The settings' database, checked reachable and at the code's schema revision.

    This is how commands, the API and workers open the database. The embedded SQLite default is
    created or migrated here on first use, so ``anyseek index DIR`` works in a new data directory;
    a PostgreSQL database that is behind is an error saying to run ``anyseek db upgrade``.
    """
    database = database_for(settings, create_dirs=True)
    try:
        ensure_current(database)
    except BaseException:
        database.dispose()
        raise
    return database


@contextmanager
def session_for(settings: Settings) -> Iterator[Session]:
    """One transaction on the settings' database (opened as :func:`open_database` does), closed
    afterwards: for a command or a test that reads or writes once."""
    database = open_database(settings)
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()
