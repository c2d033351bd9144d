"""``anyseek serve``: the HTTP API under uvicorn, the model loaded once at start-up."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from anyseek.access import OPEN, check_open
from anyseek.cli.context import settings_of
from anyseek.cli.server_note import leave_note, remove_note
from anyseek.settings import Settings

if TYPE_CHECKING:
    from anyseek.api.readers import ReaderPool

log = logging.getLogger("anyseek.serve")
#: where a command on this machine reaches a server bound to every address
LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to bind (ANYSEEK_API__HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port (ANYSEEK_API__PORT)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        max=64,
        help="Processes serving the port: one writer and the rest readers, so searches use "
        "every core (ANYSEEK_API__WORKERS; unset: one per core as the memory allows).",
    ),
) -> None:
    """Serve the HTTP API (docs at /docs) and the web page: search, collections, items, jobs."""
    serve_api(settings_of(ctx), host=host, port=port, log_level=log_level, workers=workers)


def serve_api(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    workers: int | None = None,
) -> None:
    """Run the API and the web page under uvicorn until interrupted (also ``anyseek demo``)."""
    # idle OpenMP workers (the model's, FAISS's) sleep instead of spinning, set before either
    # library loads: spinning, they took the cores the request threads need between batches
    # (16 clients of captions and sketches on 2 busy cores gave about twice the searches/s with
    # it, in a quick A/B that is not a result file; bench/search.py measures the whole path)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import uvicorn

    from anyseek.api.app import create_app
    from anyseek.api.processes import serving_processes
    from anyseek.api.readers import threads_per_process
    from anyseek.db.migrate import open_database
    from anyseek.search.stores.writer_lock import SERVER, announce

    plan = serving_processes(settings, workers or settings.api.workers)
    bound = {
        "host": host or settings.api.host,
        "port": port or settings.api.port,
        "workers": plan.processes,
    }
    api = settings.api.model_copy(update=bound)
    settings = settings.model_copy(update={"api": api})  # /v1/model says the mode it is in
    settings = threads_per_process(settings, api.workers)
    if check_open(api) == OPEN:
        log.warning(
            "serving on %s with no API key (ANYSEEK_API__ALLOW_OPEN): anyone who can reach "
            "port %s may change or delete every collection",
            api.host,
            api.port,
        )
    database = open_database(settings)  # a one-line error now, not a 500 on every request later
    host, port = api.host, api.port
    readers = _readers(settings, log_level) if api.workers > 1 else None
    port = readers.port if readers else port  # port 0: the free one the writer bound
    on_loaded = readers.pool.barrier.release_when_loaded if readers else None
    app = create_app(settings, database=database, on_loaded=on_loaded)
    local_url = f"http://{LOOPBACK.get(host, host)}:{port}"
    announce(SERVER, local_url)  # CLI writes come here
    typer.echo(_listening(host, port, local_url))
    typer.echo(f"serving from {plan.reason}")
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5
    )
    note = leave_note(settings.data_dir, local_url) if port else None  # `anyseek search` asks it
    try:
        if readers is None:
            uvicorn.Server(config).run()
            return
        readers.pool.start()
        try:
            uvicorn.Server(config).run(sockets=readers.sockets)
        finally:
            readers.pool.stop()
    finally:
        if note is not None:
            remove_note(note)


def _listening(host: str, port: int, local_url: str) -> str:
    """The line saying where to open the page: a URL a browser can open (``0.0.0.0`` is an
    address to bind, not one to visit), and the bound address when it is every address."""
    where = f"anyseek on {local_url}  (web page; API docs: {local_url}/docs)"
    return where if host not in LOOPBACK else f"{where}; listening on every address ({host})"


@dataclass
class _Readers:
    """What the writer of ``--workers N`` serves beside its N-1 readers: its sockets (the port,
    the private address readers forward writes to) and the readers."""

    sockets: list[socket.socket]
    pool: ReaderPool
    port: int


def _readers(settings: Settings, log_level: str) -> _Readers:
    """The port bound (not listening yet) and the reader processes that will share it."""
    from anyseek.api.readers import (
        ReaderPool,
        ReaderSpec,
        free_port_of,
        private_socket,
        shared_port_socket,
        url_of,
    )

    port = free_port_of(settings.api.host, settings.api.port)
    public, private = shared_port_socket(settings.api.host, port), private_socket()
    spec = ReaderSpec(settings, settings.api.host, port, url_of(private), log_level)
    return _Readers([public, private], ReaderPool(spec, settings.api.workers - 1), port)


COMMANDS = (serve,)
