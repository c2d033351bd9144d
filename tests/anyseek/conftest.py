"""Database fixtures: one empty database per test, on SQLite and on PostgreSQL (own schema)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from anyseek.db import migrate
from anyseek.db.session import Database, database_from_url

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh PostgreSQL schema, dropped after the test."""
    schema = f"anyseek_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    # A non-UTC session time zone proves timestamps are normalised whatever the server's setting.
    options = f"-csearch_path={schema} -ctimezone=America/New_York"
    url = make_url(postgres_url).update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


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
