"""Two deployments on one broker, each killed mid-job, each ends with exactly its own items
(issue 73): tasks name their deployment, a worker forwards another's to that deployment's queue,
and a killed worker's chunk comes back once its lease runs out, long before the visibility
timeout."""

from __future__ import annotations

import hashlib
import time
from functools import partial
from pathlib import Path

import pytest
from index_checks import CHUNK, Probe, check_exactly_once, make_images
from sqlalchemy import select
from worker_processes import purged_app, wait_for, workers

from anyseek.db.models import ChunkStatus, IndexChunk, Item
from anyseek.settings import Settings, load_settings
from anyseek.workers.submit import submit_job

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(600)]

#: Redis would hand a killed worker's chunk back only after this long: longer than the test waits
VISIBILITY_S = 600
LEASE_S = 3
#: 12 chunks each (80 made the RabbitMQ run 93 s in CI): each side's first worker is killed on the
#: first chunk it holds, and on RabbitMQ a forwarded or redelivered task may cost the solo worker's
#: loop a 10 s idle (docs/deploy.md), so every chunk fewer shortens the test
IMAGES_EACH = 48
CHUNKS = IMAGES_EACH // CHUNK


def deployment_settings(root: Path, database_url: str, broker_url: str) -> Settings:
    """One deployment: its data folder and database, the shared broker and queue names."""
    return load_settings(
        data_dir=root / "data",
        database_url=database_url,
        broker_url=broker_url,
        indexer={"chunk_size": CHUNK, "decode_workers": 1, "visibility_timeout_s": VISIBILITY_S},
        workers={"chunk_lease_s": LEASE_S, "lease_sweep_s": 1},
    )


def file_hashes(folder: Path) -> set[str]:
    """SHA-256 of every image in a folder."""
    return {hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.glob("*.png")}


def held_chunk(probe: Probe, pid: int) -> tuple[int, int] | None:
    """The pending chunk (job id, seq) whose lease the worker process ``pid`` holds, if any."""
    with probe.database.session() as session:
        row = session.execute(
            select(IndexChunk.job_id, IndexChunk.seq).where(
                IndexChunk.status == ChunkStatus.PENDING, IndexChunk.owner.like(f"%:{pid}")
            )
        ).first()
    return (row[0], row[1]) if row else None


def chunk_staged(probe: Probe, job_id: int, seq: int) -> bool:
    """Whether a chunk is staged."""
    with probe.database.session() as session:
        return session.get(IndexChunk, (job_id, seq)).status == ChunkStatus.DONE


def item_hashes(probe: Probe) -> set[str]:
    """SHA-256 of every item in a deployment's database."""
    with probe.database.session() as session:
        return set(session.scalars(select(Item.sha256)))


@pytest.mark.parametrize("broker", ["redis_url", "amqp_url"])
def test_two_deployments_on_one_broker_each_index_exactly_their_own(
    tmp_path, worker_database_url, other_database_url, broker, request
) -> None:
    url = request.getfixturevalue(broker)
    sides = {
        "a": deployment_settings(tmp_path / "a", worker_database_url, url),
        "b": deployment_settings(tmp_path / "b", other_database_url, url),
    }
    purged_app(sides["a"])  # the same queue names for both: tasks of each reach the other
    probes = {name: Probe(s.effective_database_url) for name, s in sides.items()}
    for first, name in enumerate(sides):
        make_images(tmp_path / name / "images", IMAGES_EACH, first=1000 * first)
    jobs = {}
    with (
        workers(sides["a"], tmp_path / "a", "index,writer") as (first_a,),
        workers(sides["b"], tmp_path / "b", "index,writer") as (first_b,),
    ):
        logs = [first_a.log, first_b.log]
        wait_for(lambda: all("ready." in log.read_text() for log in logs), 180, "ready", logs)
        for name, settings in sides.items():
            jobs[name] = submit_job(settings, "kill", tmp_path / name / "images")
        killed = {}
        for name, worker in (("a", first_a), ("b", first_b)):
            pid = worker.process.pid
            wait_for(
                partial(held_chunk, probes[name], pid), 120, f"{name}'s worker on a chunk", logs
            )
            worker.kill9()  # its chunk unacknowledged, its lease no longer renewed
            killed[name] = held_chunk(probes[name], pid)  # None: staged just before the kill
    killed_at = time.monotonic()
    for name in sides:
        assert probes[name].chunks_done(jobs[name]) < CHUNKS, "killed mid-job"
    with (
        workers(sides["a"], tmp_path / "a", "index,writer") as (second_a,),
        workers(sides["b"], tmp_path / "b", "index,writer") as (second_b,),
    ):
        logs += [second_a.log, second_b.log]
        for name, chunk in killed.items():
            if chunk is not None:
                wait_for(
                    partial(chunk_staged, probes[name], *chunk),
                    VISIBILITY_S / 3,
                    f"{name}'s killed chunk {chunk} to be staged by another worker",
                    logs,
                )
                print(f"{name}: chunk {chunk} staged {time.monotonic() - killed_at:.1f} s after")
        wait_for(
            lambda: all(probes[n].status(jobs[n]) == "succeeded" for n in sides),
            VISIBILITY_S / 3,
            "both jobs to finish (well before the visibility timeout)",
            logs,
        )
    print(f"both jobs done {time.monotonic() - killed_at:.1f} s after the kills")
    for name, settings in sides.items():
        check_exactly_once(settings, probes[name], jobs[name], IMAGES_EACH)
        assert item_hashes(probes[name]) == file_hashes(tmp_path / name / "images")
        probes[name].database.dispose()
    forwarded = sum(log.read_text().count("not run here, sent to queue") for log in logs)
    assert forwarded > 0, "each worker should have met tasks of the other deployment"
