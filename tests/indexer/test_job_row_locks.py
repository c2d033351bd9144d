"""Stagers and the writer share a job's row on PostgreSQL without deadlocking.

A chunk's staging inserts rows that name its job (staged vectors, failures), which takes a
key-share lock on the job's row; at its end it adds its counts to the job and locks the row to
see whether the job is complete (``stage_chunk``). The writer's apply adds what it stored to
the job and locks it the same way (``count_done``). While that lock was ``FOR UPDATE`` it
waited for every key-share lock, including one held by a second stager of the same job, and
that stager's own count update then waited for the first: PostgreSQL broke the cycle by failing
one of them (seen on the multi-host bed as a chunk retried after ``DeadlockDetected``). A job's
key never changes, so the lock is ``FOR NO KEY UPDATE``, which key-share locks do not block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from anyseek.db import migrate
from anyseek.db.models import IndexJob
from anyseek.db.session import Database, database_from_url
from anyseek.indexer.jobs import count_done, create_job, get_job, record_failures


@pytest.fixture
def database(postgres_schema_url: str) -> Iterator[Database]:
    """A migrated PostgreSQL database of the test's own, whose lock waits end after 10 s."""
    database = database_from_url(postgres_schema_url)
    migrate.upgrade(database)

    @event.listens_for(database.engine, "connect")
    def bounded_waits(connection: object, _: object) -> None:
        """A lock not granted in 10 s fails the statement: a wait cycle PostgreSQL cannot see
        (two sessions of this one thread) fails the test instead of hanging it."""
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("SET lock_timeout = '10s'")

    database.engine.dispose()  # connections made from here on have the timeout
    yield database
    database.dispose()


def new_job(database: Database) -> int:
    """A job with nothing in it yet: its row is what the sessions below share."""
    with database.session() as session:
        return create_job(session, "photos", "folder", [], chunk_size=4).id


def staged_failure(session: Session, job_id: int, name: str) -> None:
    """What staging writes first: a row naming the job (a key-share lock on the job's row)."""
    record_failures(session, job_id, [(name, "unreadable")])
    session.flush()


def counted(session: Session, job_id: int) -> None:
    """What staging does last: its counts added to the job, then the job locked to finish it."""
    session.execute(
        update(IndexJob).where(IndexJob.id == job_id).values(failed=IndexJob.failed + 1)
    )
    get_job(session, job_id, lock=True)


def in_thread(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """``work`` started on a thread; what it raised is collected, not lost."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_two_stagers_of_one_job_finish_their_chunks(database: Database) -> None:
    job_id = new_job(database)
    with database.session() as second:
        staged_failure(second, job_id, "b.png")

        def first_stager() -> None:
            with database.session() as first:
                staged_failure(first, job_id, "a.png")
                counted(first, job_id)  # waits for the second while its lock is FOR UPDATE

        thread, errors = in_thread(first_stager)
        thread.join(timeout=2)
        counted(second, job_id)
    thread.join(timeout=30)
    assert not thread.is_alive(), "the first stager is still waiting for the job's row"
    assert not errors, f"the first stager failed: {errors[0]!r}"
    with database.session() as session:
        assert get_job(session, job_id).failed == 2


def test_the_writer_counts_a_job_while_two_chunks_of_it_are_staged(database: Database) -> None:
    job_id = new_job(database)
    with database.session() as first, database.session() as second:
        staged_failure(first, job_id, "a.png")
        staged_failure(second, job_id, "b.png")

        def writer() -> None:
            with database.session() as session:
                count_done(session, {job_id: 3})

        thread, errors = in_thread(writer)
        thread.join(timeout=2)  # with FOR UPDATE the writer waits on both stagers here
        counted(first, job_id)
        first.commit()
        counted(second, job_id)
    thread.join(timeout=30)
    assert not thread.is_alive(), "the writer is still waiting for the job's row"
    assert not errors, f"the writer failed: {errors[0]!r}"
    with database.session() as session:
        job = get_job(session, job_id)
        assert (job.done, job.failed) == (3, 2)
