"""Worker fixtures: a migrated database in a fresh PostgreSQL schema per test."""

from __future__ import annotations

import pytest

from anyseek.db import migrate
from anyseek.db.session import database_from_url


@pytest.fixture
def worker_database_url(postgres_schema_url: str) -> str:
    """A migrated database in its own PostgreSQL schema, dropped after the test."""
    database = database_from_url(postgres_schema_url)
    migrate.upgrade(database)
    database.dispose()
    return postgres_schema_url


@pytest.fixture
def other_database_url(other_schema_url: str) -> str:
    """A second migrated database in a schema of its own: another deployment's."""
    database = database_from_url(other_schema_url)
    migrate.upgrade(database)
    database.dispose()
    return other_schema_url
