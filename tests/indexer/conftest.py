"""Indexing fixtures: the real built-in model (loaded once), migrated settings and a fresh
PostgreSQL schema per test."""

from __future__ import annotations

import pytest

from anyseek.db import migrate
from anyseek.db.session import database_for


@pytest.fixture
def ready_settings(settings):
    """Settings whose SQLite database is migrated to the newest schema."""
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    return settings
