"""A throwaway PostgreSQL cluster of a test's own (``initdb`` in a temporary folder, on a free
port), which the test can stop, start and restart: the database outages of issue 40.

Every command goes through :meth:`PostgresCluster.command`, so a caller may run the cluster
elsewhere (e.g. in a network namespace: ``prefix=["ip", "netns", "exec", NS]``). ``initdb``
refuses root, so the commands run as the ``postgres`` user, and the folder is owned by it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

USER = "postgres"
COMMAND_TIMEOUT_S = 60
#: a test cluster keeps nothing worth a crash: no fsync, so restarts cost the shared disk nothing
SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


def binary(name: str) -> str | None:
    """A PostgreSQL server program (``initdb``, ``pg_ctl``): on the PATH, else in Debian's
    ``/usr/lib/postgresql/<version>/bin`` (newest first)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def unavailable() -> str | None:
    """Why a cluster cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "a test PostgreSQL cluster needs root (to run initdb as the postgres user)"
    if binary("initdb") is None or binary("pg_ctl") is None:
        return "initdb/pg_ctl are not installed (Debian: postgresql)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"there is no {USER!r} user to run initdb as"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class PostgresCluster:
    """One ``initdb`` cluster in a temporary folder; trust authentication for ``postgres``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        prefix: Sequence[str] = (),
        settings: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.prefix = list(prefix)
        self.settings = {**SETTINGS, **(settings or {})}
        self.folder = Path(tempfile.mkdtemp(prefix="anyseek-pg-"))  # not under pytest's 0700
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        try:
            user = pwd.getpwnam(USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            initdb = [binary("initdb") or "initdb", "-D", str(self.data), "-A", "trust"]
            self._run([*initdb, "-U", USER])
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's ``postgres`` database."""
        return f"postgresql+psycopg://{USER}@{self.host}:{self.port}/postgres"

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` as the ``postgres`` user, behind the prefix (the one place a command is
        built)."""
        return [*self.prefix, "runuser", "-u", USER, "--", *args]

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = [
            f"-c listen_addresses={self.host}",
            f"-p {self.port}",
            f"-k {self.folder}",
            *(f"-c {key}={value}" for key, value in self.settings.items()),
        ]
        self._pg_ctl("-o", " ".join(options), "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions are terminated, as an operator's restart does;
        ``immediate``: as a crash)."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop, then start again."""
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        """Whether the server runs (``pg_ctl status``)."""
        done = subprocess.run(
            self.command([binary("pg_ctl") or "pg_ctl", "-D", str(self.data), "status"]),
            capture_output=True,
            check=False,
            timeout=COMMAND_TIMEOUT_S,
        )
        return done.returncode == 0

    def close(self) -> None:
        """Stop the server if it runs (immediately: nothing is kept) and delete the folder."""
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _pg_ctl(self, *args: str) -> None:
        self._run([binary("pg_ctl") or "pg_ctl", "-D", str(self.data), *args])

    def _run(self, args: Sequence[str]) -> None:
        """Run a command as the ``postgres`` user; fail with its output and the server log."""
        done = subprocess.run(
            self.command(args),
            capture_output=True,
            text=True,
            check=False,
            timeout=COMMAND_TIMEOUT_S,
            cwd=self.folder,
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} exited with {done.returncode}: {done.stdout}{done.stderr}{log}"
            )
