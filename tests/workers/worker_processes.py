"""Real ``anyseek worker`` processes for tests: start, wait for a condition, kill -9, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import Celery

from anyseek.settings import Settings
from anyseek.workers.app import check_broker, configure, queue_names

ANYSEEK = Path(sys.executable).with_name("anyseek")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a worker process read exactly ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANYSEEK_")}
    env.update(
        ANYSEEK_DATA_DIR=str(settings.data_dir),
        ANYSEEK_DATABASE_URL=settings.effective_database_url,
        ANYSEEK_BROKER_URL=settings.broker_url,
        ANYSEEK_STORE__BACKEND=settings.store.backend,
        ANYSEEK_INDEXER__CHUNK_SIZE=str(settings.indexer.chunk_size),
        ANYSEEK_INDEXER__DECODE_WORKERS=str(settings.indexer.decode_workers),
        ANYSEEK_INDEXER__VISIBILITY_TIMEOUT_S=str(settings.indexer.visibility_timeout_s),
        ANYSEEK_INDEXER__REINDEX_BATCH=str(settings.indexer.reindex_batch),
        ANYSEEK_INDEXER__FLUSH_INTERVAL_S=str(settings.indexer.flush_interval_s),
        OMP_NUM_THREADS="1",
    )
    # whole sections: the model's ("auto" precision may differ per process) and the workers'
    # lease, queue and database timeouts (issues 73 and 74)
    for section in ("model", "workers"):
        values = getattr(settings, section).model_dump().items()
        prefix = f"ANYSEEK_{section.upper()}__"
        env.update({prefix + k.upper(): str(v) for k, v in values if v is not None})
    if settings.store.path is not None:  # a store folder of its own (e.g. on a small disk)
        env["ANYSEEK_STORE__PATH"] = settings.store.path
    return env


class Worker:
    """One worker process in its own session, so a kill reaches it and nothing else."""

    def __init__(self, settings: Settings, queues: str, log: Path) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.process = subprocess.Popen(
            [str(ANYSEEK), "worker", "--queues", queues, "--loglevel", "INFO"],
            env=settings_env(settings),
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill9(self) -> None:
        """SIGKILL the worker: no clean shutdown, no acknowledgement of its current task."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP the worker: frozen as a long GC pause or a paused VM would leave it, its
        connections open and its locks held."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused worker."""
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.resume()  # a paused worker would not act on SIGTERM
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.handle.close()


@contextmanager
def workers(settings: Settings, log_dir: Path, *queue_sets: str) -> Iterator[list[Worker]]:
    """Start one worker per queue set; stop them all at the end."""
    started = [
        Worker(settings, queues, log_dir / f"worker{n}.log") for n, queues in enumerate(queue_sets)
    ]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, logs: list[Path]) -> None:
    """Poll ``condition`` until it holds; on timeout fail with the workers' log tails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{_tails(logs)}")


def wait_progressing(
    condition: Callable[[], bool],
    progress: Callable[[], object],
    stall_s: float,
    what: str,
    logs: list[Path],
    ceiling_s: float | None = None,
) -> float:
    """Poll ``condition`` until it holds; fail only when ``progress()`` (a snapshot of the work
    done, compared with ``==``) has not changed for ``stall_s``, or when ``ceiling_s`` (if given:
    a bound the test proves) has passed. A loaded machine is slower, not stuck, so the time a test
    may take follows its progress instead of a guess at the machine's speed. Returns the seconds
    waited."""
    start = time.monotonic()
    last, moved = progress(), start
    while True:
        if condition():
            return time.monotonic() - start
        now = time.monotonic()
        if ceiling_s is not None and now - start > ceiling_s:
            why = f"{ceiling_s:.0f} s passed"
            break
        seen = progress()
        if seen != last:
            last, moved = seen, now
        elif now - moved > stall_s:
            why = f"no progress for {stall_s:.0f} s (still at {last!r})"
            break
        time.sleep(0.1)
    raise AssertionError(f"{why} waiting for {what}\n{_tails(logs)}")


def _tails(logs: list[Path]) -> str:
    """The last lines of each worker log that exists, for a failure's message."""
    return "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for log in logs if log.exists())


def purged_app(settings: Settings) -> Celery:
    """The app configured for ``settings`` with both anyseek queues emptied (earlier runs)."""
    app = configure(settings)
    check_broker(app)  # declares the queues
    with app.connection_for_write() as connection:
        for queue in queue_names(settings).values():
            connection.default_channel.queue_purge(queue)
    return app
