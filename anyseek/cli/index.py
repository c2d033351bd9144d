"""``anyseek index``, ``anyseek jobs`` and ``anyseek worker``: bulk indexing from the shell."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from anyseek.cli.context import settings_of
from anyseek.cli.database import checked_database
from anyseek.cli.output import echo_table
from anyseek.cli.writer import claim_store, held_by_worker, refusal
from anyseek.errors import SettingsError

if TYPE_CHECKING:
    from anyseek.indexer import IndexReport
    from anyseek.indexer.records import SourceForm

# indexer and workers import torch: they are imported inside the commands that need them, so
# `anyseek --help` and the other commands stay fast.

app = typer.Typer(help="List, show and cancel index jobs.", no_args_is_help=True)
MAX_FAILURES_SHOWN = 20
EXIT_CODES = {"succeeded": 0, "partial": 2}  # how a job ended -> exit code; any other is 1


def echo_report(result: IndexReport, shown: int = MAX_FAILURES_SHOWN) -> None:
    """Print a job's counts and its first ``shown`` failures and skips, one line each."""
    typer.echo(
        f"job {result.job_id} {result.status}: {result.done} indexed, {result.failed} failed, "
        f"{result.skipped} skipped of {result.total} (collection {result.collection!r})"
    )
    if result.already_indexed:
        typer.echo(f"  {result.already_indexed} of the skipped were already in the collection")
    if result.metadata_unmatched:
        rows = ", ".join(result.unmatched_rows)
        more = ", ..." if result.metadata_unmatched > len(result.unmatched_rows) else ""
        typer.echo(
            f"  {result.metadata_unmatched} metadata rows named no image of the source: "
            f"{rows}{more}"
        )
    if result.recovered:
        typer.echo(f"  recovered {result.recovered} items a crash had left pending")
    if result.error:
        typer.echo(f"  error: {result.error}")
    listed = [
        *(("failed", *f) for f in result.failures),
        *(("skipped", *s) for s in result.skips),
        *(("noted", *n) for n in result.notes),  # indexed, a fact of it left out: why
    ]
    for kind, uri, reason in listed[:shown]:
        typer.echo(f"  {kind}: {uri}: {reason}")
    if len(listed) > shown > 0:
        typer.echo(f"  ... see `anyseek jobs show {result.job_id} --all`")


def upload_advice(collection: str, form: SourceForm) -> str:
    """How to send this source to the server holding the writer instead: the upload route with
    the form fields a non-photo source needs (``modality``, ``manifest``)."""
    route = f"POST /v1/collections/{collection}/items"
    if form.manifest:
        return (
            f"upload it through it ({route}: the manifest in the form field 'manifest', "
            "each file it names in 'files')"
        )
    if form.modality == "caption":
        return f"upload the JSONL through it ({route} with the form field modality=caption)"
    if form.modality != "rgb":
        return f"upload the files through it ({route} with the form field modality={form.modality})"
    return f"upload the images through it ({route})"


def index(
    ctx: typer.Context,
    source: str = typer.Argument(
        ..., metavar="SOURCE", help="folder, .txt/.csv list of paths or URLs, file or URL"
    ),
    collection: str = typer.Option(..., "--collection", "-c", help="collection to index into"),
    workers: bool = typer.Option(
        False, "--workers", help="enqueue for Celery workers (needs ANYSEEK_BROKER_URL)"
    ),
    metadata: Path | None = typer.Option(
        None, "--metadata", help="CSV or JSONL of metadata, one row per image keyed by 'path'"
    ),
    modality: str = typer.Option(
        "rgb",
        "--modality",
        help="what SOURCE's files are: rgb (photos), depth, semseg, normal, sketch, edges...; "
        "caption: SOURCE is a JSONL of {'text', 'key', metadata fields} lines",
    ),
    manifest: bool = typer.Option(
        False,
        "--manifest",
        help="SOURCE is a CSV or JSONL of records: a column per modality (file paths relative "
        "to it, text for caption), an optional 'key', metadata columns",
    ),
) -> None:
    """Index SOURCE into a collection: in this process with a progress bar, or via workers."""
    from anyseek.indexer.records import SourceForm, check_request

    settings = settings_of(ctx)
    form = SourceForm(modality, manifest)
    check_request(settings.indexer, collection, source, form)  # seconds before the model would load
    table = None
    if metadata is not None:
        from anyseek.indexer.metadata import read_metadata_file

        table = read_metadata_file(metadata)
    if workers:
        if not settings.broker_url:
            raise SettingsError("--workers needs a broker: set ANYSEEK_BROKER_URL")
        from anyseek.indexer.runtime import process_model
        from anyseek.workers.submit import submit_job

        model = process_model(settings)  # the workers' model: what it does not take is refused
        job_id = submit_job(settings, collection, source, metadata=table, form=form, model=model)
        typer.echo(f"job {job_id} queued; follow it with `anyseek jobs show {job_id}`")
        return
    from anyseek.indexer import run_index
    from anyseek.search.stores.writer_lock import WriterBusyError

    try:  # another process writing the store: refused before a job is written
        store = claim_store(settings)
    except WriterBusyError as busy:
        advice = upload_advice(collection, form)
        if held_by_worker(busy):
            advice = "index with --workers"
        raise refusal(busy, f"index {source} --collection {collection}", advice) from None
    try:
        found = run_index(
            settings, collection, source, store=store, progress=True, metadata=table, form=form
        )
    finally:
        store.close()
    echo_report(found)
    if found.status == "failed" and found.failed and not found.done:
        typer.echo("  none of its items was indexed: the failures above say why", err=True)
    raise typer.Exit(EXIT_CODES.get(found.status, 1))


def worker(
    ctx: typer.Context,
    queues: str = typer.Option(
        "index,writer", help="comma-separated: 'index' (chunks) and/or 'writer' (store writes)"
    ),
    concurrency: int = typer.Option(1, min=1, help="processes (one per GPU; CPU: cores)"),
    pool: str = typer.Option("solo", help="solo (one process), prefork, threads"),
    loglevel: str = typer.Option("INFO"),
    name: str = typer.Option(
        "",
        help="the worker's node name (default anyseek-PID@HOSTNAME: unique per process, so "
        "several workers on one machine can share a RabbitMQ broker)",
    ),
) -> None:
    """Start a Celery worker for index jobs (see docs/deploy.md)."""
    from anyseek.workers.app import QUEUES, check_broker, configure, forward_queue, queue_names

    names = [name.strip() for name in queues.split(",") if name.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown or not names:
        raise SettingsError(f"unknown queues {unknown}: choose from {sorted(QUEUES)}")
    if "writer" in names and (concurrency > 1 or pool != "solo"):
        raise SettingsError("the writer queue needs one process: use --pool solo --concurrency 1")
    settings = settings_of(ctx)
    celery = configure(settings)
    check_broker(celery)
    from anyseek.workers.submit import deployment
    from anyseek.workers.watchdog import start_watchdog, start_writer_duties

    # its own queues, and those other deployments' workers forward this deployment's tasks to
    own, forwarded = queue_names(settings), [forward_queue(deployment(settings), n) for n in names]
    if "writer" in names:
        waiting = start_writer_duties(settings)
        if waiting:
            typer.echo(f"applying staged vectors of {', '.join(waiting)}")
    start_watchdog(settings)  # every worker; the one holding the lease sweeps (workers/lease.py)
    celery.worker_main(
        [
            "worker",
            f"--queues={','.join([own[name] for name in names] + forwarded)}",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--loglevel={loglevel}",
            f"--hostname={name or f'anyseek-{os.getpid()}@%h'}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


COMMANDS = (index, worker)


@app.command("list")
def list_(
    ctx: typer.Context,
    collection: str | None = typer.Option(None, "--collection", "-c"),
    limit: int = typer.Option(20, min=1),
) -> None:
    """The newest index jobs with their progress (a job whose process died shows failed)."""
    from anyseek.indexer.heartbeat import fail_dead_jobs
    from anyseek.indexer.jobs import list_jobs

    stale_s = settings_of(ctx).indexer.heartbeat_stale_s
    with checked_database(ctx) as database, database.session() as session:
        fail_dead_jobs(session, stale_s)
        rows = [
            (
                j.id,
                j.collection.name,
                j.status.value,
                j.total,
                j.done,
                j.failed,
                j.skipped,
                j.created_at,
                j.source,
            )
            for j in list_jobs(session, collection, limit)
        ]
    if not rows:
        typer.echo("no index jobs yet: start one with `anyseek index SOURCE --collection NAME`")
        return
    echo_table(
        ("id", "collection", "status", "total", "done", "failed", "skipped", "created", "source"),
        rows,
    )


@app.command("show")
def show(
    ctx: typer.Context,
    job_id: int = typer.Argument(...),
    all_failures: bool = typer.Option(False, "--all", help="print every failure, skip and note"),
) -> None:
    """One job's counts, status, failures, skips and notes (entries indexed with a fact of
    theirs left out, and why)."""
    from anyseek.indexer.heartbeat import fail_dead_jobs
    from anyseek.indexer.jobs import report

    stale_s = settings_of(ctx).indexer.heartbeat_stale_s
    with checked_database(ctx) as database, database.session() as session:
        fail_dead_jobs(session, stale_s)
        result = report(session, job_id, max_failures=10**9 if all_failures else 100)
    if all_failures:  # every one, once, each on its own line before the counts
        for uri, reason in result.failures:
            typer.echo(f"failed: {uri}: {reason}")
        for uri, reason in result.skips:
            typer.echo(f"skipped: {uri}: {reason}")
        for uri, note in result.notes:
            typer.echo(f"noted: {uri}: {note}")
    echo_report(result, shown=0 if all_failures else MAX_FAILURES_SHOWN)


@app.command("cancel")
def cancel(ctx: typer.Context, job_id: int = typer.Argument(...)) -> None:
    """Cancel a queued or running job; chunks not yet staged are dropped."""
    from anyseek.indexer.jobs import cancel_job

    with checked_database(ctx) as database, database.session() as session:
        cancel_job(session, job_id)
    typer.echo(f"job {job_id} cancelled")
