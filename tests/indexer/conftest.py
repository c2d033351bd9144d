"""Indexing fixtures: migrated settings, alone or for each store and database pairing."""

from __future__ import annotations

import pytest

from anyseek.db import migrate
from anyseek.db.session import database_for


@pytest.fixture(params=["faiss-sqlite", "qdrant-sqlite", "faiss-postgresql"])
def paired_settings(request: pytest.FixtureRequest, settings):
    """Migrated settings for one store and database pairing (PostgreSQL skips without the
    service unless ANYSEEK_REQUIRE_SERVICES=1)."""
    backend, db = request.param.split("-")
    changes: dict = {"store": settings.store.model_copy(update={"backend": backend})}
    if db == "postgresql":
        changes["database_url"] = request.getfixturevalue("postgres_schema_url")
    configured = settings.model_copy(update=changes)
    database = database_for(configured, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    return configured
