"""The deployment of docs/deploy.md on hosts of a test network: every part on its own host.

    db      PostgreSQL                     mq      Redis or RabbitMQ
    api     anyseek serve + the FAISS writer worker (its data folder on a small disk)
    w1, w2  anyseek worker --queues index  (one solo process each)

The test process is the operator's machine: it reaches every host, submits jobs to the API and
reads the database and the FAISS folder to check the result.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from netns import IP, Host, Network
from pg_cluster import PostgresCluster
from redis_server import RedisServer
from server_process import wait_ready
from services import RabbitMQ, wait_port
from small_disk import small_disk

ANYSEEK = Path(sys.executable).with_name("anyseek")
API_PORT = 8000
HTTP = httpx.Client(trust_env=False, timeout=30)


@dataclass(frozen=True)
class Sizes:
    """How big a run is: CI runs small and short, the bench at full size."""

    images: int = 400
    chunk: int = 16
    outage_s: float = 8.0
    disk_mb: int = 64
    visibility_s: int = 10  # Redis redelivers a dead worker's chunk after this long


class Cluster:
    """Hosts, servers and anyseek processes of one deployment; :meth:`close` removes them all."""

    def __init__(self, broker: str, sizes: Sizes, images: Path, root: Path | None = None) -> None:
        self.broker_kind, self.sizes, self.images = broker, sizes, images
        self.root = Path(tempfile.mkdtemp(prefix="anyseek-bed-", dir=root))
        os.chmod(self.root, 0o755)  # the postgres and rabbitmq users work in here too
        self.network = Network()
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.api_data = self.root / "api-data"
        self.stack = contextlib.ExitStack()  # the small disk and the database cluster
        self.filler: Path | None = None  # what fills the small disk, while a fault does
        self.anyseek: dict[str, list[subprocess.Popen]] = {}
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # ---- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        net = self.network
        self.hosts = {name: net.add_host(name) for name in ("db", "mq", "api", "w1", "w2")}
        db = self.hosts["db"]
        self.postgres = self.stack.enter_context(
            PostgresCluster(
                db.address, 5432, [IP, "netns", "exec", db.namespace], {"max_connections": "200"}
            )
        )
        with (self.postgres.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.network.prefix}.0/24 trust\n")  # the test network
        self.postgres.start()
        mq = self.hosts["mq"]
        folder = self.root / self.broker_kind
        self.broker = (
            RedisServer(folder, mq.address, 6379, [IP, "netns", "exec", mq.namespace])
            if self.broker_kind == "redis"
            else RabbitMQ(mq, folder)
        )
        self.broker.start()
        self.network.note_mount(self.api_data)
        self.stack.enter_context(small_disk(self.api_data, self.sizes.disk_mb))
        subprocess.run(
            [str(ANYSEEK), "db", "upgrade"],
            env=self.env("api"),
            check=True,
            capture_output=True,
            timeout=300,
        )
        self.start_api_host()
        for name in ("w1", "w2"):
            self.start_worker(name)

    def env(self, host: str) -> dict[str, str]:
        """The settings every anyseek process of ``host`` runs with (docs/deploy.md's .env)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
        data = self.api_data if host == "api" else self.root / f"{host}-data"
        return base | {
            "ANYSEEK_DATABASE_URL": self.postgres.url,
            "ANYSEEK_BROKER_URL": self.broker.url,
            "ANYSEEK_DATA_DIR": str(data),
            "ANYSEEK_STORE__PATH": str(data / "faiss"),
            "ANYSEEK_INDEXER__ALLOWED_ROOTS": f'["{self.images}"]',
            "ANYSEEK_INDEXER__CHUNK_SIZE": str(self.sizes.chunk),
            "ANYSEEK_INDEXER__DECODE_WORKERS": "1",
            "ANYSEEK_INDEXER__VISIBILITY_TIMEOUT_S": str(self.sizes.visibility_s),
            "ANYSEEK_API__ALLOW_OPEN": "1",  # no key on the test's own private network, on purpose
            "OMP_NUM_THREADS": "1",
        }

    def _spawn(self, host: str, role: str, argv: list[str]) -> subprocess.Popen:
        process = self.hosts[host].spawn(argv, self.env(host), self.logs / f"{host}-{role}.log")
        self.anyseek.setdefault(host, []).append(process)
        return process

    def start_api_host(self) -> None:
        """``anyseek serve`` and the writer worker on the API host; returns once serving."""
        host = self.hosts["api"]
        self._spawn(
            "api",
            "writer",
            [str(ANYSEEK), "worker", "--queues", "writer", "--pool", "solo", "--loglevel", "INFO"],
        )
        self._spawn(
            "api",
            "serve",
            [
                str(ANYSEEK),
                "serve",
                "--host",
                host.address,
                "--port",
                str(API_PORT),
                "--log-level",
                "warning",
            ],
        )
        wait_port(host.address, API_PORT, 120, "anyseek serve", self.logs / "api-serve.log")
        self.wait_ready()

    def start_worker(self, host: str) -> None:
        self._spawn(
            host,
            "worker",
            [str(ANYSEEK), "worker", "--queues", "index", "--pool", "solo", "--loglevel", "INFO"],
        )

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the API host's ``anyseek serve`` answers ``/readyz``."""
        if not wait_ready(self.api_url, self.anyseek["api"][-1], timeout):
            raise RuntimeError(f"the API was not ready in {timeout} s\n{self.log_tails()}")

    @property
    def api_url(self) -> str:
        return f"http://{self.hosts['api'].address}:{API_PORT}"

    def host(self, name: str) -> Host:
        return self.hosts[name]

    def resent_chunks(self) -> int:
        """Chunks the writer's watchdog has sent again so far (its log lines say how many)."""
        log = self.logs / "api-writer.log"
        found = re.findall(r"sent its (\d+) pending chunks again", log.read_text(errors="replace"))
        return sum(map(int, found))

    def log_tails(self, chars: int = 2000) -> str:
        """The end of every log of the bed, for a failure message."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}"
            for log in sorted(self.logs.iterdir())
        )

    # ---- teardown ---------------------------------------------------------------------------

    def close(self) -> None:
        """Every process killed, every namespace deleted, the small disk unmounted."""
        try:
            self.network.close()
        finally:
            self.stack.close()
            if not os.environ.get("ANYSEEK_KEEP_TESTBED"):
                shutil.rmtree(self.root, ignore_errors=True)
