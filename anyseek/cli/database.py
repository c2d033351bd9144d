"""How commands open the database named by the settings, and close it when they are done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from anyseek.cli.context import settings_of

if TYPE_CHECKING:  # the database modules load SQLAlchemy and Alembic: only when a command runs
    from anyseek.db.session import Database


@contextmanager
def checked_database(ctx: typer.Context) -> Iterator[Database]:
    """The database, reachable and at the current schema: SQLite migrated on first use, else a
    one-line "run `anyseek db upgrade`" error (PostgreSQL)."""
    from anyseek.db.migrate import open_database

    database = open_database(settings_of(ctx))
    try:
        yield database
    finally:
        database.dispose()
