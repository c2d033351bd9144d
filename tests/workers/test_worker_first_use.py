"""A worker process opens the database as every entry point does: a new SQLite data directory is
created on first use, a PostgreSQL database without its schema is the "run `anyseek db upgrade`"
error before any task runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from anyseek.db import migrate
from anyseek.settings import Settings, load_settings
from anyseek.workers import context


@pytest.fixture
def worker_process(monkeypatch: pytest.MonkeyPatch):
    """``settings -> context.state()`` as a fresh worker process builds it, with these settings."""
    for key in list(os.environ):
        if key.startswith("ANYSEEK_") and key != "ANYSEEK_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    monkeypatch.setattr(context, "_STATE", {})

    def start(settings: Settings) -> context.WorkerState:
        monkeypatch.setattr(context, "worker_settings", lambda: settings)
        return context.state()

    return start


def test_a_worker_creates_the_sqlite_database_of_a_new_data_directory(
    worker_process, tmp_path: Path
) -> None:
    state = worker_process(load_settings(data_dir=tmp_path / "data", model={"device": "cpu"}))
    try:
        assert migrate.schema_state(state.chunks.database).is_current
    finally:
        state.chunks.pool.shutdown()
        state.chunks.database.dispose()


def test_a_worker_on_postgresql_without_its_schema_says_run_upgrade(
    worker_process, tmp_path: Path, postgres_schema_url: str
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", database_url=postgres_schema_url)
    with pytest.raises(migrate.SchemaError, match=r"not initialised: run `anyseek db upgrade`"):
        worker_process(settings)
