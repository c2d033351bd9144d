"""``anyseek serve``: the HTTP API under uvicorn, the model loaded once at start-up."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import typer

from anyseek.access import OPEN, check_open
from anyseek.settings import Settings
from cli.context import settings_of

if TYPE_CHECKING:
    import uvicorn

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
        "every core (ANYSEEK_API__WORKERS).",
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

    from anyseek.db.migrate import open_database
    from api.app import create_app
    from api.readers import threads_per_process
    from search.stores.writer_lock import SERVER, announce

    bound = {
        "host": host or settings.api.host,
        "port": port or settings.api.port,
        "workers": workers or settings.api.workers,
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
    app = create_app(settings, database=database)
    host, port = api.host, api.port
    announce(SERVER, f"http://{LOOPBACK.get(host, host)}:{port}")  # CLI writes come here
    typer.echo(f"anyseek on http://{host}:{port}  (web page; API docs: http://{host}:{port}/docs)")
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5
    )
    if api.workers == 1:
        uvicorn.Server(config).run()
    else:
        _serve_with_readers(config, settings, log_level)


def _serve_with_readers(config: uvicorn.Config, settings: Settings, log_level: str) -> None:
    """This process as the writer on the port and a private address, beside its readers."""
    import uvicorn

    from api.readers import ReaderPool, ReaderSpec, private_socket, shared_port_socket, url_of

    public, private = shared_port_socket(config.host, config.port), private_socket()
    port = public.getsockname()[1]
    spec = ReaderSpec(settings, config.host, port, url_of(private), log_level)
    readers = ReaderPool(spec, settings.api.workers - 1)
    readers.start()
    try:
        uvicorn.Server(config).run(sockets=[public, private])
    finally:
        readers.stop()


COMMANDS = (serve,)
