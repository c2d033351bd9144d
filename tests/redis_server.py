"""A Redis server of a test's own (``redis-server`` on a free port, with its append-only file, as
docs/deploy.md runs it), which the test can stop and start again: the broker restarts of issue
40."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from pg_cluster import free_port

START_TIMEOUT_S = 30


def unavailable() -> str | None:
    """Why a server cannot be started here, or None when it can."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return "redis-server/redis-cli are not installed (Debian: redis-server)"
    return None


class RedisServer:
    """``redis-server`` on a free port, persisting to an append-only file in ``folder``; every
    command goes through :meth:`command` (a caller may prefix it, e.g. with a network
    namespace)."""

    def __init__(
        self, folder: Path, host: str = "127.0.0.1", port: int | None = None, prefix=()
    ) -> None:
        self.folder = folder
        self.host = host
        self.port = port or free_port(host)
        self.prefix = list(prefix)
        self.process: subprocess.Popen | None = None
        self.log = folder / "redis.log"
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """The broker URL of its database 0."""
        return f"redis://{self.host}:{self.port}/0"

    def command(self, args: list[str]) -> list[str]:
        """``args`` behind the prefix (the one place a command is built)."""
        return [*self.prefix, *args]

    def start(self) -> None:
        """Start it and wait until it answers."""
        server = ["redis-server", "--port", str(self.port), "--bind", self.host]
        server += ["--dir", str(self.folder), "--appendonly", "yes", "--save", ""]
        server += ["--protected-mode", "no"]  # clients from other hosts (the multi-host bed)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(server), stdout=log, stderr=subprocess.STDOUT
            )
        ping = self.command(["redis-cli", "-h", self.host, "-p", str(self.port), "ping"])
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            done = subprocess.run(ping, capture_output=True, text=True, check=False, timeout=10)
            if done.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"redis-server did not answer: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits, as a service restart does."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
