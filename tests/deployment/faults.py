"""The faults a deployment must survive, one entry each, and the run that measures one of them.

A run submits a bulk job, starts the search clients, injects the fault once the job is under way,
heals it after the outage (a host gone for good is not healed), waits for the job to end and reads
what holds: every image indexed exactly once, what the clients saw, how long recovery took.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cluster import Cluster
from load import Load, LoadSummary, summarise
from small_disk import fill, free
from workload import Outcome, Probe, submit


def fill_disk(cluster: Cluster) -> None:
    cluster.filler = fill(cluster.api_data)


def free_disk(cluster: Cluster) -> None:
    if cluster.filler is not None:
        free(cluster.filler)
        cluster.filler = None


def kill_api_host(cluster: Cluster) -> None:
    cluster.host("api").kill_all()


def restart_worker_host(cluster: Cluster) -> None:
    """A replacement for a host gone for good: plugged in again, its worker started anew."""
    cluster.host("w1").reconnect()
    cluster.start_worker("w1")


def worker_pids(cluster: Cluster, host: str = "w1") -> list[int]:
    """The live anyseek processes of a worker host."""
    return [p.pid for p in cluster.anyseek.get(host, []) if p.poll() is None]


def signal_worker(cluster: Cluster, number: signal.Signals) -> None:
    """Send ``number`` to every process of w1's worker (each leads a session of its own)."""
    for pid in worker_pids(cluster):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, number)


def remove_worker_host(cluster: Cluster) -> None:
    cluster.host("w1").kill_all()
    cluster.host("w1").cut()


@dataclass(frozen=True)
class Fault:
    """One fault: how to cause it, how it ends (None: it does not), how the bed is made whole."""

    name: str
    what: str
    inject: Callable[[Cluster], None]
    heal: Callable[[Cluster], None] | None
    restore: Callable[[Cluster], None] | None = None  # after the run, for the next fault
    api_down: bool = False  # the API host itself dies: its clients cannot connect meanwhile


FAULTS = (
    Fault(
        "worker-link-down",
        "a worker host's link down, then back",
        lambda c: c.host("w1").cut(),
        lambda c: c.host("w1").reconnect(),
    ),
    Fault(
        "worker-host-gone",
        "a worker host gone for good (every process killed, link down)",
        remove_worker_host,
        None,
        restore=restart_worker_host,
    ),
    Fault(
        "worker-paused",
        "a worker frozen (SIGSTOP: a long GC pause, a paused VM), its link up, then resumed",
        lambda c: signal_worker(c, signal.SIGSTOP),
        lambda c: signal_worker(c, signal.SIGCONT),
    ),
    Fault(
        "broker-restart",
        "the broker stopped, then started with its data",
        lambda c: c.broker.stop(),
        lambda c: c.broker.start(),
    ),
    Fault(
        "postgres-restart",
        "PostgreSQL stopped, then started",
        lambda c: c.postgres.stop(),
        lambda c: c.postgres.start(),
    ),
    Fault(
        "writer-disk-full",
        "the FAISS writer's disk full, then freed",
        fill_disk,
        free_disk,
    ),
    Fault(
        "api-host-restart",
        "the API host (API and FAISS writer) killed, then started again",
        kill_api_host,
        lambda c: c.start_api_host(),
        api_down=True,
    ),
)
BY_NAME = {fault.name: fault for fault in FAULTS}
#: The (broker, fault) runs CI makes: each fault once, on the broker whose side of it differs most
#: (a lost worker's task comes back by Redis's visibility timeout but by RabbitMQ's closed
#: connection, so each broker gets one of the two), and the broker's own restart on both; a frozen
#: worker on RabbitMQ, which would not hand its chunk back by itself (issue 74); 8 runs, not 14,
#: to keep CI near 30 minutes. bench/deployment.py runs all 14 at full size.
CI_CASES = frozenset(
    {
        ("redis", "worker-link-down"),
        ("redis", "broker-restart"),
        ("redis", "writer-disk-full"),
        ("rabbitmq", "worker-host-gone"),
        ("rabbitmq", "worker-paused"),
        ("rabbitmq", "broker-restart"),
        ("rabbitmq", "postgres-restart"),
        ("rabbitmq", "api-host-restart"),
    }
)
DONE = ("succeeded", "partial", "failed", "cancelled")


@dataclass(frozen=True)
class FaultResult:
    """What one fault run measured."""

    fault: str
    broker: str
    outcome: Outcome
    recovery_s: float | None  # from the heal to indexing moving and a search answered again
    job_s: float  # submit to the job's end
    during: LoadSummary  # the clients, from the fault to recovery
    overall: LoadSummary  # the clients, the whole run
    resent: int = 0  # chunks the writer's watchdog sent again (a broker lost them)
    #: from the fault to w1's chunk in hand staged by another worker, whenever in the run (None:
    #: w1 held none, or staged it before the fault)
    chunk_back_s: float | None = None


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def run_fault(
    cluster: Cluster, fault: Fault, collection: str, files: int, clients: int = 16
) -> FaultResult:
    """Index ``cluster.images`` into ``collection`` with ``fault`` part-way; what held."""
    probe = Probe(cluster)
    outage = cluster.sizes.outage_s
    resent_before = cluster.resent_chunks()
    try:
        started = time.monotonic()
        job_id = submit(cluster, collection, cluster.images)
        wait_until(lambda: probe.indexed(collection) >= files // 10, 300, "10% indexed")
        load = Load(cluster.api_url, collection, clients).start()
        time.sleep(1.0)
        held = _wait_for_held_chunk(probe, cluster, timeout=30.0)
        fault_at, fault_clock = time.monotonic(), datetime.now(UTC)
        fault.inject(cluster)
        time.sleep(outage)
        healed_at = time.monotonic()  # recovery counts the heal itself (a host's restart)
        if fault.heal:
            fault.heal(cluster)
        moved_at = _first_progress(probe, job_id, collection, files, timeout=600)
        answered_at = _first_answer_after(load, healed_at, timeout=120)
        wait_until(lambda: _safe_status(probe, job_id) in DONE, 600, "the job to end")
        job_s = time.monotonic() - started
        time.sleep(1.0)
        load.stop()
        recovered = max(moved_at, answered_at) if moved_at and answered_at else None
        outcome = probe.outcome(job_id, collection, files)
        chunk_back_s = _chunk_back(probe, held, fault_clock)
        return FaultResult(
            fault=fault.name,
            broker=cluster.broker_kind,
            outcome=outcome,
            recovery_s=None if recovered is None else round(max(0.0, recovered - healed_at), 1),
            job_s=round(job_s, 1),
            during=summarise(load.answers, fault_at, recovered or float("inf"), fault.api_down),
            overall=summarise(load.answers, api_down=fault.api_down),
            resent=cluster.resent_chunks() - resent_before,
            chunk_back_s=chunk_back_s,
        )
    finally:
        if fault.restore:
            fault.restore(cluster)
        probe.close()


def _wait_for_held_chunk(probe: Probe, cluster: Cluster, timeout: float) -> tuple[int, int] | None:
    """Wait until w1's worker holds a chunk's lease, so a fault on w1 strikes a chunk in hand.

    Without the wait a kill may land between two chunks, leaving no chunk to time (issue 73);
    None if w1 held none within ``timeout`` (the fault then strikes anyway).
    """
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):  # a look that fails is one more try
            held = probe.held_chunk(worker_pids(cluster))
            if held is not None:
                return held
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _chunk_back(probe: Probe, held: tuple[int, int] | None, fault_clock: datetime) -> float | None:
    """Seconds from the fault to the chunk ``held`` being staged (its ``finished_at``, written by
    the worker that staged it; every host shares this machine's clock), after the run. None when
    w1 held none, or staged it itself before the fault struck."""
    if held is None:
        return None
    finished = probe.chunk_finished_at(*held)
    if finished is None or finished < fault_clock:
        return None
    return round((finished - fault_clock).total_seconds(), 1)


def _safe_status(probe: Probe, job_id: int) -> str:
    """The job's status, or "unknown" while the database cannot be read."""
    try:
        return probe.job(job_id)["status"]
    except Exception:
        return "unknown"


def _first_progress(
    probe: Probe, job_id: int, collection: str, files: int, timeout: float
) -> float | None:
    """When, after now, the collection's indexed count first grew (or was already complete)."""
    deadline = time.monotonic() + timeout
    before: int | None = None
    while time.monotonic() < deadline:
        try:
            count = probe.indexed(collection)
        except Exception:
            count = None
        if count is not None:
            if count >= files or (before is not None and count > before):
                return time.monotonic()
            before = count if before is None else before
        time.sleep(0.25)
    return None


def _first_answer_after(load: Load, after: float, timeout: float) -> float | None:
    """When the first good query sent after ``after`` was answered 200 (its send time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = [
            a.at for a in list(load.answers) if a.at >= after and a.good and a.outcome == "200"
        ]
        if answered:
            return min(answered)
        time.sleep(0.25)
    return None


def run_load(
    cluster: Cluster, collection: str, files: int, seconds: float, clients: int = 16
) -> FaultResult:
    """No fault: ``clients`` search clients for ``seconds`` while a bulk job indexes."""
    probe = Probe(cluster)
    try:
        started = time.monotonic()
        job_id = submit(cluster, collection, cluster.images)
        wait_until(lambda: probe.indexed(collection) > 0, 300, "a first image indexed")
        load = Load(cluster.api_url, collection, clients).start()
        time.sleep(seconds)
        wait_until(lambda: _safe_status(probe, job_id) in DONE, 600, "the job to end")
        job_s = time.monotonic() - started
        load.stop()
        summary = summarise(load.answers)
        return FaultResult(
            fault="none (load only)",
            broker=cluster.broker_kind,
            outcome=probe.outcome(job_id, collection, files),
            recovery_s=0.0,
            job_s=round(job_s, 1),
            during=summary,
            overall=summary,
        )
    finally:
        probe.close()
