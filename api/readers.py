"""``anyseek serve --workers N``: this process serves as the writer and N-1 reader processes serve
the same port, so searches use every core (one process's Python work holds one core).

Each process binds its own socket to the port with ``SO_REUSEPORT``, so the kernel spreads new
connections over the processes. (With one shared socket, the process that woke first accepted
every waiting connection: 16 clients connecting at once all went to one process.) A socket starts
listening only once its process has loaded the model, and at start-up the processes begin
listening together (:class:`StartBarrier`), so a client that finds the server ready finds all of
it: no connection waits in the queue of a process still loading, and the first clients spread
over every process.

The writer is the server as with one process: it runs the index jobs and is the store's one
writing process; it also listens on a private loopback port. A reader loads the model, searches
and reads, and forwards each write to that port (``anyseek.api.forward``). A reader that dies is
started again; readers stop with the writer, and stop by themselves when the writer is gone.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

from anyseek.settings import Settings

log = logging.getLogger("anyseek.serve")
RESTART_PAUSE_S = 1.0  # between a reader's death and its restart, so a crash loop stays slow
START_TIMEOUT_S = 600.0  # longest the processes wait for each other before listening anyway


@dataclass(frozen=True)
class ReaderSpec:
    """What a reader process is started with (pickled to it): the port it serves (the writer's,
    bound already) and where it forwards writes."""

    settings: Settings
    host: str
    port: int
    writer_url: str
    log_level: str


def threads_per_process(settings: Settings, processes: int) -> Settings:
    """``settings`` with the model's intra-op threads split over ``processes`` (unless set), so
    N processes' OpenMP teams do not ask for N times the cores."""
    if settings.api.inference_threads or processes == 1:
        return settings
    share = max(1, (os.cpu_count() or 1) // processes)
    api = settings.api.model_copy(update={"inference_threads": share})
    return settings.model_copy(update={"api": api})


def tcp_socket(family: socket.AddressFamily) -> socket.socket:
    """A TCP socket whose protocol is named, not 0: asyncio turns Nagle's algorithm off
    (``TCP_NODELAY``) only on connections of such a socket, and with it on every answer waited
    for the client's delayed ACK (about 40 ms)."""
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)


def free_port_of(host: str, port: int) -> int:
    """``port`` (a free one for 0) after checking no other server holds it: a socket with
    ``SO_REUSEPORT`` would share a port with another such server of the same user, splitting its
    clients between the two, so the writer first binds it plainly, alone."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with tcp_socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        return probe.getsockname()[1]


def shared_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that every process of the server binds too
    (``SO_REUSEPORT``: the kernel balances new connections over those listening). Not listening
    yet: the server listens once its app has started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = tcp_socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def private_socket() -> socket.socket:
    """A listening socket on a free loopback port: the writer's address for forwarded writes."""
    sock = tcp_socket(socket.AF_INET)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


class StartBarrier:
    """The processes start listening together: each reader says it has loaded (``loaded``) and
    waits for ``go``, which the writer sets once every reader has loaded (or after
    ``START_TIMEOUT_S``, saying which did not). A reader restarted later finds ``go`` set."""

    def __init__(self, context: multiprocessing.context.SpawnContext, readers: int) -> None:
        self.loaded = [context.Event() for _ in range(readers)]
        self.go = context.Event()

    def release_when_loaded(self) -> None:
        """The writer's: wait for every reader to load, then let all listen."""
        deadline = time.monotonic() + START_TIMEOUT_S
        for i, loaded in enumerate(self.loaded):
            if not loaded.wait(max(0.0, deadline - time.monotonic())):
                log.warning(
                    "reader %d not loaded in %.0f s; listening without it", i, START_TIMEOUT_S
                )
        self.go.set()


def _reader_started(loaded: Event, go: Event, writer_pid: int) -> None:
    """A reader's: say it has loaded, then wait for the writer's go (not for a writer gone)."""
    loaded.set()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not go.wait(1) and os.getppid() == writer_pid and time.monotonic() < deadline:
        pass


def run_reader(spec: ReaderSpec, writer_pid: int, loaded: Event, go: Event) -> None:
    """A reader process: the app with writes forwarded, on its own socket of the shared port."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the writer (cli.serve)
    import uvicorn

    from anyseek.api.app import create_app

    _die_with_writer(writer_pid)
    _stop_when_orphaned(writer_pid)
    sock = shared_port_socket(spec.host, spec.port)
    app = create_app(
        spec.settings,
        writer_url=spec.writer_url,
        on_loaded=lambda: _reader_started(loaded, go, writer_pid),
    )
    config = uvicorn.Config(app, log_level=spec.log_level, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


def _die_with_writer(writer_pid: int) -> None:
    """On Linux, have the kernel kill this reader the moment the writer dies (even by SIGKILL):
    a reader left serving the port for the second the orphan watch takes kept a restarted
    server from binding it (a plain ``anyseek serve`` runs readers on a machine with several
    cores). Elsewhere the orphan watch alone stops it."""
    import ctypes

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != writer_pid:  # the writer died before the request took hold
        os._exit(0)


def _stop_when_orphaned(writer_pid: int) -> None:
    """Stop this reader (SIGTERM: uvicorn's graceful stop) once the writer process is gone."""

    def watch() -> None:
        while os.getppid() == writer_pid:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="anyseek-orphan-watch", daemon=True).start()


class ReaderPool:
    """``count`` reader processes, kept running until :meth:`stop`; :attr:`barrier` is what the
    writer releases once they have all loaded."""

    def __init__(self, spec: ReaderSpec, count: int) -> None:
        self.spec, self.count = spec, count
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self.barrier = StartBarrier(self._context, count)
        self._processes: list[BaseProcess] = []
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._keep, name="anyseek-readers", daemon=True)

    def _spawn(self, i: int) -> BaseProcess:
        process = self._context.Process(
            target=run_reader,
            args=(self.spec, os.getpid(), self.barrier.loaded[i], self.barrier.go),
            name=f"anyseek-reader-{i}",
        )
        process.start()
        return process

    def start(self) -> None:
        """Start the readers, and a thread that restarts any that dies."""
        self._processes = [self._spawn(i) for i in range(self.count)]
        log.info("%d reader processes: %s", self.count, self.pids)
        self._watcher.start()

    def _keep(self) -> None:
        while not self._stopping.wait(RESTART_PAUSE_S):
            for i, process in enumerate(self._processes):
                if process.is_alive() or self._stopping.is_set():
                    continue
                log.warning(
                    "reader pid %s exited (%s); starting another", process.pid, process.exitcode
                )
                self._processes[i] = self._spawn(i)

    @property
    def pids(self) -> list[int | None]:
        return [p.pid for p in self._processes]

    def stop(self, timeout_s: float = 10) -> None:
        """Stop every reader: SIGTERM, then SIGKILL for one still running after ``timeout_s``."""
        self._stopping.set()
        self.barrier.go.set()  # a reader still waiting to listen stops waiting
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + timeout_s
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
