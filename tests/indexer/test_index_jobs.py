"""Jobs survive crashes between the database and the store, resume, and cancel within a chunk."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from indexing_images import write_good_images
from sqlalchemy import func, select

from anyseek.db.migrate import open_database
from anyseek.db.models import Item, ItemStatus, PendingVectors
from anyseek.indexer import outbox, plan_job, run_index
from anyseek.indexer.collections import attach_model
from anyseek.indexer.jobs import cancel_job, report, start_job
from anyseek.indexer.pipeline import ChunkContext, finish_chunk, prepare_chunk, process_chunk
from anyseek.search.stores import open_store


def with_chunks(settings, size: int):
    """A copy of ``settings`` with another chunk size."""
    return settings.model_copy(
        update={"indexer": settings.indexer.model_copy(update={"chunk_size": size})}
    )


def statuses(settings) -> dict[str, int]:
    """Item count per status, and staged outbox rows."""
    database = open_database(settings)
    try:
        with database.session() as session:
            out = {
                status.value: count
                for status, count in session.execute(
                    select(Item.status, func.count()).group_by(Item.status)
                )
            }
            out["outbox"] = session.scalar(select(func.count()).select_from(PendingVectors))
            return out
    finally:
        database.dispose()


def test_a_crash_after_the_store_write_is_repaired_by_resuming(
    ready_settings, search_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = tmp_path / "images"  # beside the data directory, whose files would be skips
    write_good_images(images, count=5)
    settings = with_chunks(ready_settings, 2)
    # one apply, at the end (a slow, shared machine must not make an earlier one crash)
    settings.indexer.flush_interval_s = 3600

    def crash(*args: object) -> int:
        raise RuntimeError("power cut")

    monkeypatch.setattr(outbox, "_mark_indexed", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        run_index(settings, "crash", images, model=search_model)

    # vectors were written for pending items: never vectors without an item, nothing "indexed"
    assert statuses(settings) == {"pending": 5, "outbox": 5}
    with open_store(settings) as store:
        assert store.count("crash") == 5
    monkeypatch.undo()

    resumed = run_index(settings, "crash", images, model=search_model, job_id=1)

    assert (resumed.status, resumed.done, resumed.failed, resumed.skipped) == ("succeeded", 5, 0, 0)
    assert statuses(settings) == {"indexed": 5, "outbox": 0}
    with open_store(settings) as store:
        assert store.count("crash") == 5


@contextmanager
def started_job(
    settings, model, collection: str, folder: Path
) -> Iterator[tuple[int, ChunkContext]]:
    """Plan a job over ``folder`` and start it with ``model`` attached; its id and a one-thread
    chunk context, whose database is closed afterwards."""
    job_id = plan_job(settings, collection, folder)
    database = open_database(settings)
    try:
        with database.session() as session:
            attach_model(session, start_job(session, job_id).collection, model)
        with ThreadPoolExecutor(1) as pool:
            yield job_id, ChunkContext(settings, database, model, pool)
    finally:
        database.dispose()


def test_cancel_stops_the_job_within_one_chunk(ready_settings, search_model, tmp_path) -> None:
    images = tmp_path / "images"
    write_good_images(images, count=6)
    settings = with_chunks(ready_settings, 2)
    with started_job(settings, search_model, "cancel", images) as (job_id, ctx):
        assert process_chunk(ctx, job_id, 0)
        with ctx.database.session() as session:
            cancel_job(session, job_id)

        result = run_index(settings, "cancel", images, model=search_model, job_id=job_id)

        with ctx.database.session() as session:
            assert report(session, job_id).status == "cancelled"
    assert (result.status, result.done, result.skipped, result.failed) == ("cancelled", 2, 0, 0)
    assert statuses(settings) == {ItemStatus.INDEXED.value: 2, "outbox": 0}


def test_a_redelivered_chunk_is_staged_once(ready_settings, search_model, tmp_path) -> None:
    write_good_images(tmp_path / "images", count=3)
    settings = with_chunks(ready_settings, 2)
    with started_job(settings, search_model, "twice", tmp_path / "images") as (job_id, ctx):
        first = prepare_chunk(ctx, job_id, 0)
        assert first is not None and finish_chunk(ctx, first)
        again = prepare_chunk(ctx, job_id, 0)  # a redelivered task
        assert again is None and not process_chunk(ctx, job_id, 0)
        assert not finish_chunk(ctx, first)  # two deliveries racing: the second stages nothing
        with ctx.database.session() as session:
            counts = report(session, job_id)
    assert (counts.done, counts.skipped, counts.failed) == (0, 0, 0)
    assert statuses(settings) == {"pending": 2, "outbox": 2}
