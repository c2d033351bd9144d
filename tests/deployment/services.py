"""The test bed's own RabbitMQ node on its host (Redis: tests/redis_server, PostgreSQL:
tests/pg_cluster, each run in its host's namespace).

Each keeps its files under a folder of the test's, listens on its host's address only, and can be
stopped (cleanly, as a restart does) and started again with its data kept.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from netns import Host
from pg_cluster import unavailable as postgres_unavailable
from ports import port_open

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def wait_port(address: str, port: int, timeout: float, what: str, log: Path) -> None:
    """Wait until ``address:port`` accepts connections; fail with the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(address, port):
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not listen on {address}:{port} in {timeout} s:\n{tail}")


def why_missing() -> str | None:
    """Which server binary is missing here (None when all are present)."""
    for path in (Path(shutil.which("redis-server") or "/nonexistent"), RABBITMQ_SERVER):
        if not path.exists():
            return f"{path.name} is not installed"
    return postgres_unavailable()


def _stop(process: subprocess.Popen | None, timeout: float = 60) -> None:
    """SIGTERM the process's session and wait; SIGKILL it when it does not stop in time."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class RabbitMQ:
    """A RabbitMQ node of its own (``rabbit@localhost`` inside its host), guest allowed remotely."""

    port = 5672

    def __init__(self, host: Host, folder: Path) -> None:
        self.host, self.folder = host, folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {self.port}\nloopback_users = none\n"
        )
        (folder / "enabled_plugins").write_text("[].\n")
        shutil.chown(folder, "rabbitmq")
        for path in folder.iterdir():
            shutil.chown(path, "rabbitmq")
        self.log = folder / "rabbitmq.out"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host.address}:{self.port}//"

    def start(self) -> None:
        env = {
            **os.environ,
            "HOME": str(self.folder),
            "RABBITMQ_NODENAME": "rabbit@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": self.host.address,
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
        }
        argv = ["env", f"HOME={self.folder}", str(RABBITMQ_SERVER)]  # runuser resets HOME
        self.process = self.host.spawn(argv, env, self.log, user="rabbitmq")
        wait_port(self.host.address, self.port, 90, "RabbitMQ", self.log)

    def stop(self) -> None:
        _stop(self.process, timeout=90)
