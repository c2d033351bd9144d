"""A frozen worker (SIGSTOP) stops neither the job nor the writer (issue 74).

Two index workers and a writer on a real broker and PostgreSQL; one index worker is frozen at a
moment it holds rows in an open transaction (the worst moment: PostgreSQL shows it ``idle in
transaction`` with a row lock on the job or the collection). The job must still finish while it is
frozen (its chunk redone by the other worker once its lease ran out, the writer applying), and
when it wakes its late chunk is a logged no-op: every image indexed exactly once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from index_checks import CHUNK, Probe, check_exactly_once, make_images
from sqlalchemy import Engine, text
from worker_processes import Worker, purged_app, wait_for, workers

from anyseek.settings import Settings, load_settings
from anyseek.workers.submit import submit_job

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(600)]

IMAGES = 120  # 30 chunks: enough stagings by the worker to be frozen to catch one
#: a session of the given client ports idle in a transaction that holds a row lock on the job
#: or the collection table (SELECT ... FOR UPDATE / FOR SHARE, UPDATE)
HOLDING_ROWS = text(
    "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
    "JOIN pg_class c ON c.oid = l.relation "
    "WHERE a.state = 'idle in transaction' AND a.client_port = ANY(:ports) AND l.granted "
    "AND c.relname IN ('index_jobs', 'collections') "
    "AND l.mode IN ('RowShareLock', 'RowExclusiveLock')"
)


def pause_settings(tmp_path: Path, database_url: str, broker_url: str) -> Settings:
    """Short leases and database timeouts, so that the test takes seconds, not minutes."""
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url=broker_url,
        indexer={"chunk_size": CHUNK, "decode_workers": 1, "visibility_timeout_s": 10},
        workers={
            "chunk_lease_s": 3,
            "lease_sweep_s": 1,
            "lock_timeout_s": 2,
            "idle_in_transaction_timeout_s": 3,
        },
    )


def local_ports(pid: int) -> list[int]:
    """The local TCP ports of a process's sockets (its database connections among them)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def holding_rows(engine: Engine, pid: int) -> bool:
    """Whether the process has a database session idle in a transaction holding shared rows."""
    with engine.connect() as connection:
        found = connection.execute(HOLDING_ROWS, {"ports": local_ports(pid)}).scalar_one()
    return found > 0


def freeze_holding_rows(worker: Worker, engine: Engine, timeout: float, logs: list[Path]) -> None:
    """SIGSTOP the worker at a moment it holds shared rows in an open transaction (checked once
    it is stopped: caught between two statements; otherwise woken and tried again)."""
    pid = worker.process.pid

    def caught() -> bool:
        if not holding_rows(engine, pid):
            return False
        worker.pause()
        if holding_rows(engine, pid):
            return True
        worker.resume()
        return False

    wait_for(caught, timeout, "the worker to hold rows in an open transaction", logs)


@pytest.mark.parametrize("broker", ["redis_url", "amqp_url"])
def test_a_frozen_worker_stops_neither_the_job_nor_the_writer(
    tmp_path, worker_database_url, broker, request
) -> None:
    settings = pause_settings(tmp_path, worker_database_url, request.getfixturevalue(broker))
    purged_app(settings)
    probe = Probe(settings.effective_database_url)
    make_images(tmp_path / "images", IMAGES)
    with workers(settings, tmp_path, "writer", "index", "index") as (_, _, frozen):
        logs = [tmp_path / f"worker{n}.log" for n in range(3)]
        wait_for(lambda: all("ready." in log.read_text() for log in logs), 180, "all ready", logs)
        job_id = submit_job(settings, "kill", tmp_path / "images")
        freeze_holding_rows(frozen, probe.database.engine, 120, logs)
        frozen_at = time.monotonic()
        try:  # the other worker and the writer finish the job while this one is frozen
            wait_for(
                lambda: probe.status(job_id) == "succeeded",
                240,
                "the job to finish while one worker is frozen",
                logs,
            )
        finally:
            frozen.resume()
        print(f"job done {time.monotonic() - frozen_at:.1f} s after the freeze")
        # woken, the frozen worker finds its session ended by the database: said, then retried
        wait_for(
            lambda: f"retrying job {job_id} chunk" in frozen.log.read_text(),
            60,
            "the woken worker to say its chunk's transaction was ended",
            logs,
        )
        time.sleep(3)  # its retry finds the chunk staged: a no-op
    check_exactly_once(settings, probe, job_id, IMAGES)
    probe.database.dispose()
