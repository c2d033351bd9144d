"""Indexing fixtures: the real built-in model (loaded once), migrated settings and a fresh
PostgreSQL schema per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from anyseek.db import migrate
from anyseek.db.session import database_for


@pytest.fixture
def ready_settings(settings):
    """Settings whose SQLite database is migrated to the newest schema."""
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    return settings


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema, dropped afterwards."""
    schema = f"anyseek_idx_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
