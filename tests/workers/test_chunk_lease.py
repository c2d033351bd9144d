"""Chunk leases and worker session limits on a real PostgreSQL (issue 74): a chunk is claimed by
one worker at a time, freed once once its lease runs out, and a session that needs a row a
frozen transaction holds gets an error, not an endless wait."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import exc, select, text

from anyseek.db.deployment import installation_id
from anyseek.db.models import IndexChunk, IndexJob
from anyseek.db.session import SessionTimeouts, database_from_url, with_timeouts
from anyseek.errors import ServiceUnavailableError
from anyseek.indexer.chunk_lease import Claim, claim_chunk, release_expired, renew
from anyseek.indexer.jobs import create_job
from anyseek.indexer.sources import SourceRef

pytestmark = pytest.mark.integration


@pytest.fixture
def database(worker_database_url):
    """The migrated database, closed after the test."""
    found = database_from_url(worker_database_url)
    yield found
    found.dispose()


def a_job(database, chunks: int = 2) -> int:
    """A queued job of ``chunks`` one-item chunks; its id."""
    refs = [SourceRef(uri=f"/x/{n}.png", path=f"{n}.png") for n in range(chunks)]
    with database.session() as session:
        return create_job(session, "leases", "/x", refs, chunk_size=1).id


def test_a_chunk_is_one_workers_until_its_lease_runs_out(database) -> None:
    job_id = a_job(database)
    with database.session() as session:
        assert claim_chunk(session, job_id, 0, "host:1", lease_s=1) is Claim.CLAIMED
        assert claim_chunk(session, job_id, 0, "host:2", lease_s=1) is Claim.HELD
        assert claim_chunk(session, job_id, 0, "host:1", lease_s=1) is Claim.CLAIMED  # again
    with database.session() as session:
        assert release_expired(session) == []  # still live
    assert renew(database, job_id, 0, "host:1", lease_s=1)
    assert not renew(database, job_id, 0, "host:2", lease_s=1)
    time.sleep(1.2)
    with database.session() as session:
        assert release_expired(session) == [(job_id, 0)]
    with database.session() as session:
        assert release_expired(session) == []  # freed once: one sweeper sends it
    assert not renew(database, job_id, 0, "host:1", lease_s=1)  # the late worker lost it
    with database.session() as session:
        assert claim_chunk(session, job_id, 0, "host:2", lease_s=1) is Claim.CLAIMED
        owner = session.scalar(select(IndexChunk.owner).where(IndexChunk.seq == 0))
    assert owner == "host:2"


def test_a_session_behind_a_frozen_transaction_fails_and_the_frozen_one_is_ended(
    worker_database_url,
) -> None:
    limits = SessionTimeouts(lock_s=0.5, statement_s=10, idle_in_transaction_s=1)
    frozen = with_timeouts(database_from_url(worker_database_url), limits)
    waiting = with_timeouts(database_from_url(worker_database_url), limits)
    job_id = a_job(frozen)
    try:
        with frozen.sessions() as stuck:
            stuck.execute(select(IndexJob).where(IndexJob.id == job_id).with_for_update())
            started = time.monotonic()  # the job's row locked, the transaction left open
            locked = select(IndexJob).where(IndexJob.id == job_id).with_for_update()
            with pytest.raises(exc.OperationalError, match="lock timeout"), waiting.session() as s:
                s.execute(locked)
            assert time.monotonic() - started < 5
            time.sleep(1.5)  # past idle_in_transaction_session_timeout
            with pytest.raises(exc.DBAPIError, match="idle-in-transaction timeout"):
                stuck.execute(text("SELECT 1"))  # the database ended the frozen session
        with waiting.session() as session:  # and its lock with it
            session.execute(locked)
    finally:
        frozen.dispose()
        waiting.dispose()


def test_a_session_ended_for_idling_in_a_transaction_is_an_outage_a_retry_cures(
    worker_database_url,
) -> None:
    limits = SessionTimeouts(idle_in_transaction_s=0.5)
    database = with_timeouts(database_from_url(worker_database_url), limits)
    try:
        ended = pytest.raises(ServiceUnavailableError, match="idle-in-transaction")
        with ended, database.session() as session:
            session.execute(text("SELECT 1"))
            time.sleep(1.0)  # frozen, as far as the database can tell
            session.execute(text("SELECT 1"))
        with database.session() as session:  # a new connection: fine
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        database.dispose()


def test_the_deployment_id_is_made_once_and_kept(database) -> None:
    with database.session() as session:
        first = installation_id(session)
    with database.session() as session:
        assert installation_id(session) == first
    assert len(first) == 32
