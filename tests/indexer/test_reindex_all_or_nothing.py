"""Re-index and rollback are all or nothing: another writer is refused before any change, a
re-index failing half-way drops its unfinished version, a rollback the store refuses leaves the
current version; either way the job ends failed with the reason, never left running."""

from __future__ import annotations

from pathlib import Path

import pytest
from derived_model import derived_bundle
from indexing_images import write_good_images
from sqlalchemy import func, select

from anyseek.db import versions
from anyseek.db.migrate import open_database
from anyseek.db.models import IndexJob
from anyseek.errors import ServiceUnavailableError
from anyseek.indexer import run_index
from anyseek.indexer.jobs import report
from anyseek.indexer.reindex import run_reindex, start_reindex
from anyseek.indexer.version_switch import rollback
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.stores import open_store
from anyseek.search.stores.writer_lock import WriterBusyError
from anyseek.settings import Settings

COLLECTION = "scenes"


@pytest.fixture
def indexed(ready_settings: Settings, search_model, tmp_path: Path):
    """Settings, database, store and model registry over 4 scenes indexed with the built-in
    model, and a source of another model."""
    settings = ready_settings.model_copy(
        update={"indexer": ready_settings.indexer.model_copy(update={"flush_interval_s": 0})}
    )
    run_index(settings, COLLECTION, write_good_images(tmp_path / "images", 4), model=search_model)
    database, store = open_database(settings), open_store(settings)
    registry = ModelRegistry(settings.model, default=search_model)
    yield settings, database, store, registry, str(derived_bundle(tmp_path / "models"))
    store.close()
    database.dispose()


def _reindex(settings, database, store, registry, source: str):
    with database.session() as session:
        job_id, _ = start_reindex(session, COLLECTION, registry.get(source), source)
    return job_id, run_reindex(settings, database, store, job_id, registry.get)


def _state(database, store) -> tuple[list[tuple[int, bool]], str | None, int]:
    """(number, current) of each version, the alias's target, how many jobs."""
    with database.session() as session:
        found = [(v.number, v.current) for v in versions.describe(session, COLLECTION)]
        jobs = session.scalar(select(func.count()).select_from(IndexJob))
    return found, store.alias_target(versions.alias_name(COLLECTION)), jobs


def test_another_writer_is_refused_before_anything_changes(indexed) -> None:
    settings, database, store, registry, source = indexed
    _reindex(settings, database, store, registry, source)
    store.close()  # its writer lock goes; another process's store takes it
    before = _state(database, store)
    other = open_store(settings)
    try:
        other.claim_writer()
        with pytest.raises(WriterBusyError, match="by another process, a command") as refused:
            rollback(settings, database, store, COLLECTION, registry.get)
        assert refused.value.holder is not None and refused.value.holder.role == "command"
    finally:
        other.close()
    assert _state(database, store) == before


def test_a_reindex_failing_half_way_drops_its_version_and_fails_its_job(
    indexed, monkeypatch
) -> None:
    settings, database, store, registry, source = indexed
    before = _state(database, store)

    def full(*args, **kwargs) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(store, "upsert", full)
    with pytest.raises(OSError, match="No space left"):
        _reindex(settings, database, store, registry, source)
    found, alias, jobs = _state(database, store)
    assert (found, alias, jobs) == (before[0], before[1], before[2] + 1)
    assert f"{COLLECTION}@v2" not in store.collections()
    with database.session() as session:
        job = report(session, jobs)
    assert job.status == "failed" and "No space left on device" in (job.error or "")


def test_a_rollback_the_store_refuses_leaves_the_current_version(indexed, monkeypatch) -> None:
    settings, database, store, registry, source = indexed
    assert _reindex(settings, database, store, registry, source)[1].status == "succeeded"
    before = _state(database, store)

    def refuse(*args, **kwargs) -> None:
        raise ServiceUnavailableError("the store refused the alias")

    monkeypatch.setattr(store, "set_alias", refuse)
    with pytest.raises(ServiceUnavailableError):
        rollback(settings, database, store, COLLECTION, registry.get)
    found, alias, jobs = _state(database, store)
    assert (found, alias, jobs) == (before[0], before[1], before[2] + 1)
    with database.session() as session:
        job = report(session, jobs)
    assert job.status == "failed" and "the store refused the alias" in (job.error or "")
