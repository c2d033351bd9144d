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
from worker_processes import Worker, purged_app, wait_for, wait_progressing, workers

from anyseek.db.models import ChunkStatus, IndexChunk, Item
from anyseek.settings import Settings, load_settings
from anyseek.workers.submit import submit_job

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(600)]

#: Redis would hand a killed worker's chunk back only after this long: longer than the test waits
VISIBILITY_S = 600
LEASE_S = 3
#: 8 chunks each (80 made the RabbitMQ run 93 s in CI, 48 took 267 s under two pytest-xdist
#: workers on 2 cores): each side's first worker is killed on the first chunk it holds, and on
#: RabbitMQ a task that publishes may cost the solo worker's loop a 10 s idle (docs/deploy.md),
#: so every chunk fewer shortens the test
IMAGES_EACH = 32
CHUNKS = IMAGES_EACH // CHUNK
#: a wait after the kills fails when neither deployment's work moved for this long: a loaded
#: machine makes the test slower, a stuck deployment still fails it
STALL_S = 120


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


def kill_on_a_chunk(
    first: dict[str, Worker],
    probes: dict[str, Probe],
    jobs: dict[str, int],
    killed: dict[str, tuple[int, int] | None],
) -> bool:
    """One look at every side: kill -9 each worker seen holding a chunk of its own deployment and
    record that chunk in ``killed`` (None: staged just before the kill); True once all are. Both
    sides are watched at once, as a side waited on after the other could finish its job first."""
    for name, worker in first.items():
        if name in killed:
            continue
        pid = worker.process.pid
        if held_chunk(probes[name], pid) is not None:
            worker.kill9()  # its chunk unacknowledged, its lease no longer renewed
            killed[name] = held_chunk(probes[name], pid)
        elif probes[name].chunks_done(jobs[name]) == CHUNKS:
            raise AssertionError(f"{name}'s job finished before its worker was seen on a chunk")
    return len(killed) == len(first)


def started(logs: list[Path], times: int) -> bool:
    """Whether each worker log says ``ready.`` ``times`` times (a restarted worker appends)."""
    return all(log.read_text().count("ready.") >= times for log in logs)


def progress(probes: dict[str, Probe], jobs: dict[str, int]) -> tuple[tuple[int, int, str], ...]:
    """Each deployment's work so far (chunks staged, items, job status): what a wait watches to
    tell a slow deployment from a stuck one."""
    return tuple(
        (probe.chunks_done(jobs[name]), len(item_hashes(probe)), probe.status(jobs[name]))
        for name, probe in probes.items()
    )


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
        wait_for(partial(started, logs, 1), 180, "ready", logs)
        for name, settings in sides.items():
            jobs[name] = submit_job(settings, "kill", tmp_path / name / "images")
        killed: dict[str, tuple[int, int] | None] = {}
        first = {"a": first_a, "b": first_b}
        kill = partial(kill_on_a_chunk, first, probes, jobs, killed)
        wait_for(kill, 120, "each side's worker on a chunk", logs)
    killed_at = time.monotonic()
    for name in sides:
        assert probes[name].chunks_done(jobs[name]) < CHUNKS, "killed mid-job"
    with (
        workers(sides["a"], tmp_path / "a", "index,writer") as (second_a,),
        workers(sides["b"], tmp_path / "b", "index,writer") as (second_b,),
    ):
        logs += [second_a.log, second_b.log]  # the same files: the first workers' logs go on
        wait_for(partial(started, logs, 2), 180, "the new workers to be ready", logs)
        moved = partial(progress, probes, jobs)  # nothing moves before the new workers are up
        for name, chunk in killed.items():
            if chunk is not None:  # back by its lease: well before Redis's visibility timeout
                wait_progressing(
                    partial(chunk_staged, probes[name], *chunk),
                    moved,
                    STALL_S,
                    f"{name}'s killed chunk {chunk} to be staged by another worker",
                    logs,
                    ceiling_s=VISIBILITY_S / 2 - (time.monotonic() - killed_at),
                )
                print(f"{name}: chunk {chunk} staged {time.monotonic() - killed_at:.1f} s after")
        wait_progressing(
            lambda: all(probes[n].status(jobs[n]) == "succeeded" for n in sides),
            moved,
            STALL_S,
            "both jobs to finish",
            logs,
        )
    print(f"both jobs done {time.monotonic() - killed_at:.1f} s after the kills")
    for name, settings in sides.items():
        check_exactly_once(settings, probes[name], jobs[name], IMAGES_EACH)
        assert item_hashes(probes[name]) == file_hashes(tmp_path / name / "images")
        probes[name].database.dispose()
    forwarded = sum(log.read_text().count("not run here, sent to queue") for log in logs)
    assert forwarded > 0, "each worker should have met tasks of the other deployment"
