"""Collections, items, jobs and embedding spaces behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from anyseek.db import repository
from anyseek.db.models import (
    Collection,
    EmbeddingSpace,
    IndexJob,
    Item,
    ItemEmbedding,
    ItemStatus,
    JobStatus,
    Metric,
)
from anyseek.db.session import Database
from anyseek.errors import AlreadyExistsError, NotFoundError

SHA_A = "a" * 64
SHA_B = "b" * 64


def add_items(database: Database, collection: str, statuses: list[ItemStatus]) -> None:
    """Add one item per status to ``collection``, with distinct hashes."""
    with database.session() as session:
        target = repository.get_collection(session, collection)
        for n, status in enumerate(statuses):
            session.add(
                Item(
                    collection=target,
                    sha256=f"{n:064x}",
                    source_uri=f"file:///img/{n}.png",
                    width=64,
                    height=48,
                    format="png",
                    status=status,
                )
            )


def test_create_list_delete_with_counts(database: Database) -> None:
    with database.session() as session:
        repository.create_collection(session, "dogs")
        repository.create_collection(session, "cats")
    add_items(database, "cats", [ItemStatus.INDEXED, ItemStatus.INDEXED, ItemStatus.FAILED])
    with database.session() as session:
        cats = repository.get_collection(session, "cats")
        session.add(IndexJob(collection=cats, source="folder ./cats", total=3, done=2, failed=1))

    with database.session() as session:
        listed = repository.list_collections(session)

    assert [s.name for s in listed] == ["cats", "dogs"]
    cats_summary = listed[0]
    assert (cats_summary.items, cats_summary.indexed, cats_summary.failed) == (3, 2, 1)
    assert (cats_summary.pending, cats_summary.jobs) == (0, 1)
    assert (listed[1].items, listed[1].jobs) == (0, 0)

    with database.session() as session:
        deleted = repository.delete_collection(session, "cats")
    assert (deleted.items, deleted.jobs) == (3, 1)
    with database.session() as session:
        assert [s.name for s in repository.list_collections(session)] == ["dogs"]
        # The database itself cascades (foreign keys are enforced on SQLite too).
        assert session.scalar(select(func.count()).select_from(Item)) == 0
        assert session.scalar(select(func.count()).select_from(IndexJob)) == 0


def test_duplicate_unknown_and_invalid_names_are_user_errors(database: Database) -> None:
    with database.session() as session:
        repository.create_collection(session, "cats")

    with pytest.raises(AlreadyExistsError, match="'cats' already exists"), database.session() as s:
        repository.create_collection(s, "cats")
    with pytest.raises(NotFoundError, match="no collection named 'dogs'"), database.session() as s:
        repository.delete_collection(s, "dogs")
    for bad in ["", "Cats", "a/b", "-x", "x" * 65, "spaced name"]:
        with pytest.raises(repository.InvalidNameError, match="invalid collection name"):
            repository.check_collection_name(bad)
    assert repository.check_collection_name("x" * 64) == "x" * 64


def test_content_hash_is_unique_per_collection_only(database: Database) -> None:
    with database.session() as session:
        for name in ("a", "b"):
            collection = repository.create_collection(session, name)
            session.add(Item(collection=collection, sha256=SHA_A, source_uri="file:///x.png"))

    with pytest.raises(IntegrityError), database.session() as session:
        collection = repository.get_collection(session, "a")
        session.add(Item(collection=collection, sha256=SHA_A, source_uri="file:///copy.png"))


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO items (collection_id, sha256, source_uri, status, created_at) "
        "VALUES (:cid, 'c', 'u', 'bogus', CURRENT_TIMESTAMP)",
        "INSERT INTO items (collection_id, sha256, source_uri, status, width, created_at) "
        "VALUES (:cid, 'c', 'u', 'pending', 0, CURRENT_TIMESTAMP)",
        "INSERT INTO index_jobs (collection_id, source, status, done, created_at) "
        "VALUES (:cid, 's', 'running', -1, CURRENT_TIMESTAMP)",
        "INSERT INTO items (collection_id, sha256, source_uri, status, created_at) "
        "VALUES (:cid + 1000, 'c', 'u', 'pending', CURRENT_TIMESTAMP)",
    ],
    ids=["unknown-status", "zero-width", "negative-count", "missing-collection"],
)
def test_database_rejects_invalid_rows_written_around_the_orm(
    database: Database, statement: str
) -> None:
    with database.session() as session:
        collection_id = repository.create_collection(session, "c").id

    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(text(statement), {"cid": collection_id})


def test_times_are_stored_and_read_back_in_utc(database: Database) -> None:
    local = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    with database.session() as session:
        collection = repository.create_collection(session, "c")
        session.add(IndexJob(collection=collection, source="s", started_at=local))

    with database.session() as session:
        job = session.scalars(select(IndexJob)).one()
        created = session.scalars(select(Collection)).one().created_at

    assert job.started_at == local and job.started_at.tzinfo == UTC
    assert job.status is JobStatus.QUEUED and job.total == job.done == 0
    assert created.tzinfo == UTC and abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    with pytest.raises(StatementError, match="naive datetime"), database.session() as session:
        session.add(IndexJob(collection_id=collection.id, source="s", started_at=datetime.now()))


def test_spaces_are_versioned_and_record_what_produced_each_vector(database: Database) -> None:
    def space(session: Session, version: str, dim: int = 768) -> EmbeddingSpace:
        return repository.register_space(
            session,
            "dinov2",
            dim=dim,
            metric=Metric.COSINE,
            model_name="4m-21-b",
            model_version=version,
        )

    with database.session() as session:
        collection = repository.create_collection(session, "c")
        v1, v1_again, v2 = space(session, "v1"), space(session, "v1"), space(session, "v2")
        repository.attach_space(session, collection, v1)
        repository.attach_space(session, collection, v1)  # idempotent
        repository.attach_space(session, collection, v2)
        item = Item(collection=collection, sha256=SHA_B, source_uri="file:///b.png")
        item.embeddings.append(ItemEmbedding(space=v1))
        session.add(item)

    assert v1.id == v1_again.id != v2.id
    with database.session() as session:
        summary = repository.list_collections(session)[0]
        stored = session.scalars(select(ItemEmbedding)).one()
        assert (stored.space.model_name, stored.space.model_version) == ("4m-21-b", "v1")
    assert summary.spaces == ("dinov2", "dinov2")
    with pytest.raises(repository.SpaceConflictError, match="dim=768"), database.session() as s:
        space(s, "v1", dim=512)
    with pytest.raises(IntegrityError), database.session() as session:  # still referenced
        session.execute(text("DELETE FROM embedding_spaces WHERE id = :id"), {"id": v1.id})


def test_every_enum_value_of_the_models_is_accepted_by_the_database(database: Database) -> None:
    """The CHECK constraints written in the migrations allow exactly what the models can hold."""
    with database.session() as session:
        collection = repository.create_collection(session, "c")
        for n, status in enumerate(ItemStatus):
            session.add(
                Item(collection=collection, sha256=f"{n:064x}", source_uri="u", status=status)
            )
        for status in JobStatus:
            session.add(IndexJob(collection=collection, source="s", status=status))
        for metric in Metric:
            repository.register_space(
                session, metric.value, dim=4, metric=metric, model_name="m", model_version="1"
            )

    with database.session() as session:  # and reads them back as the same enum members
        assert {item.status for item in session.scalars(select(Item))} == set(ItemStatus)
        assert {job.status for job in session.scalars(select(IndexJob))} == set(JobStatus)
        assert {s.metric for s in session.scalars(select(EmbeddingSpace))} == set(Metric)


def test_job_reports_of_many_jobs_keep_each_jobs_first_failures(database: Database) -> None:
    """The listing's one window query (first N failures per job) on both backends."""
    from anyseek.db.models import JobFailure
    from anyseek.indexer.jobs import create_job, list_reports, report
    from anyseek.indexer.sources import SourceRef

    with database.session() as session:
        ids = []
        for failures in (3, 0, 5):
            refs = [SourceRef(f"/img/{i}.png", f"{i}.png") for i in range(5)]
            job = create_job(session, "jobs", "/img", refs, chunk_size=2)
            session.add_all(
                JobFailure(job_id=job.id, source_uri=r.uri, reason=f"r{i}")
                for i, r in enumerate(refs[:failures])
            )
            ids.append(job.id)
    with database.session() as session:
        listed = list_reports(session, "jobs", limit=10, max_failures=2)
        assert [r.job_id for r in listed] == ids[::-1]  # newest first
        failures = {r.job_id: r.failures for r in listed}
        assert failures[ids[0]] == (("/img/0.png", "r0"), ("/img/1.png", "r1"))
        assert failures[ids[1]] == ()
        assert failures[ids[2]] == (("/img/0.png", "r0"), ("/img/1.png", "r1"))
        assert len(report(session, ids[2]).failures) == 5
        assert list_reports(session, limit=1)[0].collection == "jobs"
