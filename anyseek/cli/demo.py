"""``anyseek demo``: the main job on the embedded default (SQLite + FAISS + built-in model).

For now it prepares the data directory and the database (migrating it to the newest schema),
opens the vector store and loads the model the settings name, and shows what is there; indexing
and search join it as those parts land.
"""

from __future__ import annotations

import time

import typer

from anyseek.cli.collections import echo_collections
from anyseek.cli.context import settings_of
from anyseek.cli.output import echo_table
from anyseek.db import migrate, repository
from anyseek.db.models import IndexJob
from anyseek.db.session import Database, database_for, display_url, make_dir
from anyseek.settings import Settings

RECENT_JOBS = 10
JOB_COLUMNS = (
    "id",
    "collection",
    "status",
    "done",
    "failed",
    "skipped",
    "total",
    "created",
    "error",
)


def demo(ctx: typer.Context) -> None:
    """Prepare data directory and database, open the store, load the model, show what is there."""
    settings = settings_of(ctx)
    database = prepare(settings)
    try:
        report_store(settings)
        report_model(settings)
        report(database)
    finally:
        database.dispose()


def report_store(settings: Settings) -> None:
    """Open the configured vector store and say whether it is ready and what it holds."""
    from search.stores import open_store

    store = open_store(settings)
    try:
        health = store.health()
        if health.ready:
            names = ", ".join(store.collections()) or "no collections yet"
            typer.echo(f"vector store    {health.backend}, ready ({names})")
        else:
            typer.echo(f"vector store    {health.backend}, NOT ready: {health.detail}")
    finally:
        store.close()


def report_model(settings: Settings) -> None:
    """Load the configured model bundle once and describe its inputs and embedding spaces."""
    from model.bundle import is_bundle, load_bundle

    source = settings.model.source
    if not is_bundle(source):
        typer.echo(f"model           {source} (not a model bundle; search needs one)")
        return
    start = time.perf_counter()
    bundle = load_bundle(source)
    seconds = time.perf_counter() - start
    params = sum(p.numel() for p in bundle.fm.parameters()) / 1e6
    typer.echo(
        f"model           {source}: FourM, {params:.1f}M parameters, {seconds:.2f} s to load"
    )
    typer.echo(f"  query inputs  {', '.join(bundle.input_modalities)}")
    typer.echo(f"  spaces        {', '.join(bundle.spaces)}")


def prepare(settings: Settings) -> Database:
    """Create the data directory and bring the database to the newest schema."""
    make_dir(settings.data_dir, "the data directory")
    database = database_for(settings, create_dirs=True)
    try:
        state = migrate.upgrade(database)
    except BaseException:
        database.dispose()
        raise
    typer.echo(f"data directory  {settings.data_dir}")
    typer.echo(f"database        {display_url(database.engine.url)} (schema {state.current})")
    return database


def report(database: Database) -> None:
    """Print the collections with their counts and the most recent index jobs."""
    with database.session() as session:
        summaries = repository.list_collections(session)
        jobs = [_job_row(job) for job in repository.recent_jobs(session, RECENT_JOBS)]
    typer.echo("")
    if summaries:
        typer.echo(f"collections ({len(summaries)})")
        echo_collections(summaries)
    else:
        typer.echo("collections     none yet (`anyseek collections create NAME` adds one)")
    typer.echo("")
    if jobs:
        typer.echo(f"recent index jobs (newest {len(jobs)})")
        echo_table(JOB_COLUMNS, jobs)
    else:
        typer.echo("index jobs      none yet")


def _job_row(job: IndexJob) -> tuple[object, ...]:
    """One index job as a table row in :data:`JOB_COLUMNS` order."""
    return (
        job.id,
        job.collection.name,
        job.status.value,
        job.done,
        job.failed,
        job.skipped,
        job.total,
        job.created_at,
        job.error,
    )


COMMANDS = (demo,)
