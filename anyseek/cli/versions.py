"""``anyseek reindex`` and ``anyseek collections versions|rollback``: move a collection to another
model without downtime, see its versions, and go back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import typer

from anyseek.cli.context import settings_of
from anyseek.cli.database import checked_database
from anyseek.cli.output import echo_table
from anyseek.cli.writer import ServerWriter, claim_store, held_by_worker
from anyseek.errors import SettingsError

if TYPE_CHECKING:
    from anyseek.search.stores import VectorStore


def reindex(
    ctx: typer.Context,
    collection: str = typer.Argument(..., help="collection to re-embed"),
    model: str = typer.Option(
        ..., "--model", "-m", help="ANYSEEK_MODEL__SOURCE of the new model (builtin, a folder...)"
    ),
    workers: bool = typer.Option(
        False, "--workers", help="run it on the workers' writer (needs ANYSEEK_BROKER_URL)"
    ),
) -> None:
    """Re-embed COLLECTION with MODEL into a new version, then switch to it atomically.

    Searches keep using the current version meanwhile. A running server that writes the same
    store does the re-index itself; a failed one changes nothing. Run it again to resume an
    interrupted re-index; cancel it with `anyseek jobs cancel JOB`.
    """
    from anyseek.search.stores.writer_lock import WriterBusyError

    settings = settings_of(ctx)
    if workers and not settings.broker_url:
        raise SettingsError("--workers needs a broker: set ANYSEEK_BROKER_URL")
    if workers:
        _queue_reindex(ctx, collection, model)
        return
    try:
        store = claim_store(settings)
    except WriterBusyError as busy:
        if held_by_worker(busy) and settings.broker_url:
            typer.echo(f"{busy.holder.describe()} writes the store: the re-index goes to it")
            _queue_reindex(ctx, collection, model)
            return
        server = ServerWriter(settings, busy, f"reindex {collection} --model {model}")
        found, version = _reindex_through(server, collection, model)
    else:
        try:
            found, version = _reindex_here(ctx, store, collection, model)
        finally:
            store.close()
    if found.status != "succeeded":
        typer.echo(f"job {found.job_id} {found.status}: {found.error or 'see `anyseek jobs show`'}")
        raise typer.Exit(1)
    typer.echo(
        f"{collection!r} now searches version {version.number} ({version.model}); "
        f"{found.failed} items could not be re-embedded; undo with "
        f"`anyseek collections rollback {collection}`"
    )


@dataclass(frozen=True)
class _Outcome:
    """How a re-index ended, wherever it ran."""

    job_id: int
    status: str
    failed: int
    error: str | None


@dataclass(frozen=True)
class _Version:
    """The version a re-index built: its number and model (name@version)."""

    number: int
    model: str


def _reindex_here(
    ctx: typer.Context, store: VectorStore, collection: str, model: str
) -> tuple[_Outcome, _Version]:
    """Run the re-index in this process, the store's claimed writer."""
    from anyseek.indexer.reindex import run_reindex, start_reindex
    from anyseek.indexer.runtime import process_model

    settings = settings_of(ctx)
    loaded = process_model(settings, model)
    with checked_database(ctx) as database:
        with database.session() as session:
            job_id, number = start_reindex(session, collection, loaded, model)
        typer.echo(
            f"re-indexing {collection!r} into version {number} with {loaded.name}@"
            f"{loaded.version} (job {job_id})"
        )
        bar = _Bar(collection)
        try:
            found = run_reindex(
                settings,
                database,
                store,
                job_id,
                lambda source: process_model(settings, source),
                progress=bar.update,
            )
        finally:
            bar.close()
    outcome = _Outcome(job_id, found.status, found.failed, found.error)
    return outcome, _Version(number, f"{loaded.name}@{loaded.version}")


def _reindex_through(
    server: ServerWriter, collection: str, model: str
) -> tuple[_Outcome, _Version]:
    """Have the server holding the writer run the re-index; follow its job to the end."""
    source = str(Path(model).resolve()) if Path(model).exists() else model  # the server's cwd
    job = server.call("POST", f"/v1/collections/{collection}/reindex", {"model": source})
    typer.echo(f"{server.who} writes the store: re-indexing {collection!r} there (job {job['id']})")
    bar = _Bar(collection)
    try:
        job = server.follow(job, bar.update)
    finally:
        bar.close()
    listed = server.call("GET", f"/v1/collections/{collection}/versions")["versions"]
    built = next((v for v in listed if v["job_id"] == job["id"]), None)
    version = _Version(built["number"], built["model"]) if built else _Version(0, "-")
    return _Outcome(job["id"], job["status"], job["failed"], job["error"]), version


def _queue_reindex(ctx: typer.Context, collection: str, model: str) -> None:
    """Write the re-index's version and job, and queue it for the workers' writer."""
    from anyseek.indexer.reindex import start_reindex
    from anyseek.indexer.runtime import process_model
    from anyseek.workers.submit import enqueue_reindex

    settings = settings_of(ctx)
    loaded = process_model(settings, model)
    with checked_database(ctx) as database, database.session() as session:
        job_id, number = start_reindex(session, collection, loaded, model)
    typer.echo(
        f"re-indexing {collection!r} into version {number} with {loaded.name}@"
        f"{loaded.version} (job {job_id})"
    )
    enqueue_reindex(settings, job_id)
    typer.echo(f"queued; follow it with `anyseek jobs show {job_id}`")


class _Bar:
    """A tqdm bar on stderr, created at the first progress report."""

    def __init__(self, collection: str) -> None:
        self.collection, self.bar = collection, None

    def update(self, done: int, total: int) -> None:
        """Show ``done`` of ``total``."""
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit="item", desc=f"re-indexing {self.collection}")
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        """Close the bar if one was shown."""
        if self.bar is not None:
            self.bar.close()


def versions(ctx: typer.Context, name: str = typer.Argument(..., help="collection")) -> None:
    """List the versions of collection NAME (the current one marked with *)."""
    from anyseek.db.versions import describe

    with checked_database(ctx) as database, database.session() as session:
        found = describe(session, name)
    echo_table(
        ("", "version", "model", "source", "precision", "status", "store", "job", "built"),
        [
            (
                "*" if v.current else "",
                v.number,
                v.model,
                v.model_source or "-",
                v.precision or "-",
                v.status,
                v.store_name,
                v.job_id or "-",
                v.built_at or "-",
            )
            for v in found
        ],
    )


def rollback(ctx: typer.Context, name: str = typer.Argument(..., help="collection")) -> None:
    """Switch collection NAME back to its previous version (kept by KEEP_VERSIONS).

    A running server that writes the same store does the rollback itself; a failed one changes
    nothing."""
    from anyseek.indexer.runtime import process_model
    from anyseek.indexer.version_switch import rollback as roll_back
    from anyseek.search.stores.writer_lock import WriterBusyError

    settings = settings_of(ctx)
    try:
        store = claim_store(settings)
    except WriterBusyError as busy:
        server = ServerWriter(settings, busy, f"collections rollback {name}")
        typer.echo(f"{server.who} writes the store: rolling {name!r} back there")
        done = SimpleNamespace(**server.call("POST", f"/v1/collections/{name}/rollback"))
    else:
        try:
            with checked_database(ctx) as database:
                done = roll_back(
                    settings, database, store, name, lambda source: process_model(settings, source)
                )
        finally:
            store.close()
    typer.echo(
        f"{name!r} is back on version {done.current} ({done.model}), was version {done.previous}"
    )
