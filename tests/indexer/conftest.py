"""Indexing fixtures: the real built-in model (loaded once) and migrated settings."""

from __future__ import annotations

import pytest

from anyseek.db import migrate
from anyseek.db.session import database_for


@pytest.fixture(scope="session")
def search_model():
    """The built-in search model, loaded once for every indexing test."""
    from model.families import load_search_model

    return load_search_model("builtin", device="cpu")


@pytest.fixture
def ready_settings(settings):
    """Settings whose SQLite database is migrated to the newest schema."""
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    return settings
