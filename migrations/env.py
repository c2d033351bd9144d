"""Alembic environment: runs migrations on the engine anyseek hands over, or on the settings' URL.

``anyseek db upgrade`` passes its engine in ``config.attributes["engine"]``. The plain
``alembic -c migrations/alembic.ini ...`` command gets the URL from ``-x url=...`` or, failing
that, from the ``ANYSEEK_*`` settings, exactly as the CLI would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig
from typing import Literal

from alembic import context
from sqlalchemy import Connection, Engine

from anyseek.db.models import Base, UtcDateTime
from anyseek.db.session import make_engine

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:  # the plain alembic command: log what it does
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    """For the plain alembic command: ``-x url=...``, else the database the settings name."""
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url is None:
        from anyseek.settings import load_settings  # an edge: the alembic command itself

        url = load_settings().effective_database_url
    return url


def _render_item(type_: str, obj: object, autogen_context: object) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types so scripts never import app code."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: object) -> None:
    """Options shared by online and offline runs."""
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode recreates the table
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
        **kwargs,
    )


def run_offline() -> None:
    """Emit SQL for review instead of running it (``alembic upgrade head --sql``)."""
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite: foreign keys off while migrating, checked before the commit, on again after.

    Batch mode changes a table by copying it and dropping the old one; with foreign keys on, that
    drop deletes every referencing row (ON DELETE CASCADE): 0006's downgrade emptied ``items``.
    The pragma is a no-op inside a transaction, so it is set on the driver's connection first.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:  # the migrations are committed; end what the driver still has open, then back on
        connection.rollback()
        raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    """Fail the migration (its transaction rolls back) if it left rows pointing nowhere."""
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")


def run_online() -> None:
    """Run the migrations on a live connection, in one transaction where the database allows."""
    handed_over: Engine | None = config.attributes.get("engine")
    engine = handed_over or make_engine(_url(), create_dirs=True)
    try:
        with engine.connect() as connection, _sqlite_foreign_keys_off(connection):
            # Alembic runs SQLite's migrations one transaction each by default (its driver once
            # could not roll DDL back); anyseek's SQLite engine issues BEGIN IMMEDIATE itself, so
            # every migration and the revision read before them share one transaction under the
            # write lock: processes opening a new database together migrate it once, in turn.
            _configure(connection=connection, transactional_ddl=True)
            with context.begin_transaction():
                context.run_migrations()
                _check_foreign_keys(connection)
    finally:
        if handed_over is None:
            engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
