"""A chunk the broker lost is sent again by the writer's watchdog, and only then: not while the
job moves, not while chunks wait on the queue; the job then ends exactly once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from index_checks import CHUNK, IMAGES, Probe, check_exactly_once, make_images, worker_settings
from worker_processes import purged_app, wait_for, workers

from anyseek.db.models import utc_now
from anyseek.db.session import database_from_url
from anyseek.workers.app import INDEX_QUEUE
from anyseek.workers.submit import submit_job
from anyseek.workers.watchdog import queued_chunks, resend_stalled, stall_window_s

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.mark.parametrize("broker", ["own_redis", "amqp_url"])
def test_chunks_a_broker_lost_are_sent_again_once_the_job_stalls(
    tmp_path: Path, worker_database_url: str, broker: str, request: pytest.FixtureRequest
) -> None:
    found = request.getfixturevalue(broker)
    settings = worker_settings(tmp_path, worker_database_url, getattr(found, "url", found))
    make_images(tmp_path / "images")
    app = purged_app(settings)
    database = database_from_url(worker_database_url)
    job_id = submit_job(settings, "kill", tmp_path / "images")
    chunks = IMAGES // CHUNK
    later = utc_now() + timedelta(seconds=stall_window_s(settings) + 1)
    assert queued_chunks() == chunks
    assert resend_stalled(settings, database) == {}  # just submitted: not stalled
    assert resend_stalled(settings, database, later) == {}  # stalled, but its chunks are queued

    with app.connection_for_write() as connection:
        assert connection.default_channel.queue_purge(INDEX_QUEUE) == chunks  # the broker lost them
    assert resend_stalled(settings, database) == {}  # not for the stall window
    assert resend_stalled(settings, database, later) == {job_id: chunks}
    assert queued_chunks() == chunks

    probe = Probe(settings.effective_database_url)
    with workers(settings, tmp_path, "index,writer") as started:
        logs = [worker.log for worker in started]
        wait_for(lambda: probe.status(job_id) == "succeeded", 120, "the job to finish", logs)
    check_exactly_once(settings, probe, job_id)
    assert resend_stalled(settings, database, later) == {}  # a finished job is left alone
    probe.database.dispose()
    database.dispose()
