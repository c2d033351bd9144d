"""Worker fixtures: a migrated database in a fresh PostgreSQL schema per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from anyseek.db import migrate
from anyseek.db.session import database_from_url


@pytest.fixture
def worker_database_url(postgres_url: str) -> Iterator[str]:
    """A migrated database in its own PostgreSQL schema, dropped after the test."""
    schema = f"anyseek_workers_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    text = url.render_as_string(hide_password=False)
    database = database_from_url(text)
    migrate.upgrade(database)
    database.dispose()
    try:
        yield text
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
