"""Database fixtures: one empty database per test, on SQLite and on PostgreSQL (own schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from anyseek.db import migrate
from anyseek.db.session import Database, database_from_url

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'anyseek.db'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def empty_database(database_url: str) -> Iterator[Database]:
    """A :class:`Database` with no tables yet."""
    database = database_from_url(database_url, create_dirs=True)
    yield database
    database.dispose()


@pytest.fixture
def database(empty_database: Database) -> Database:
    """A :class:`Database` migrated to the newest schema."""
    migrate.upgrade(empty_database)
    return empty_database
