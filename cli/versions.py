"""``anyseek reindex`` and ``anyseek collections versions|rollback``: move a collection to another
model without downtime, see its versions, and go back."""

from __future__ import annotations

import typer

from anyseek.errors import SettingsError
from cli.context import settings_of
from cli.database import checked_database
from cli.output import echo_table


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

    Searches keep using the current version meanwhile. Run it again to resume an interrupted
    re-index; cancel it with `anyseek jobs cancel JOB`.
    """
    from indexer.reindex import run_reindex, start_reindex
    from indexer.runtime import process_model
    from search.stores import open_store

    settings = settings_of(ctx)
    if workers and not settings.broker_url:
        raise SettingsError("--workers needs a broker: set ANYSEEK_BROKER_URL")
    loaded = process_model(settings, model)
    with checked_database(ctx) as database:
        with database.session() as session:
            job_id, number = start_reindex(session, collection, loaded, model)
        typer.echo(
            f"re-indexing {collection!r} into version {number} with {loaded.name}@"
            f"{loaded.version} (job {job_id})"
        )
        if workers:
            from workers.submit import enqueue_reindex

            enqueue_reindex(settings, job_id)
            typer.echo(f"queued; follow it with `anyseek jobs show {job_id}`")
            return
        store = open_store(settings)
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
            store.close()
    if found.status != "succeeded":
        typer.echo(f"job {job_id} {found.status}: {found.error or 'see `anyseek jobs show`'}")
        raise typer.Exit(1)
    typer.echo(
        f"{collection!r} now searches version {number} ({loaded.name}@{loaded.version}); "
        f"{found.failed} items could not be re-embedded; undo with "
        f"`anyseek collections rollback {collection}`"
    )


class _Bar:
    """A tqdm bar on stderr, created at the first progress report."""

    def __init__(self, collection: str) -> None:
        self.collection, self.bar = collection, None

    def update(self, done: int, total: int) -> None:
        """Show ``done`` of ``total``."""
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit="img", desc=f"re-indexing {self.collection}")
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
        ("", "version", "model", "source", "status", "store", "job", "built"),
        [
            (
                "*" if v.current else "",
                v.number,
                v.model,
                v.model_source or "-",
                v.status,
                v.store_name,
                v.job_id or "-",
                v.built_at or "-",
            )
            for v in found
        ],
    )


def rollback(ctx: typer.Context, name: str = typer.Argument(..., help="collection")) -> None:
    """Switch collection NAME back to its previous version (kept by KEEP_VERSIONS)."""
    from indexer.reindex import rollback as roll_back
    from indexer.runtime import process_model
    from search.stores import open_store

    settings = settings_of(ctx)
    with checked_database(ctx) as database:
        store = open_store(settings)
        try:
            done = roll_back(
                settings, database, store, name, lambda source: process_model(settings, source)
            )
        finally:
            store.close()
    typer.echo(
        f"{name!r} is back on version {done.current} ({done.model}), was version {done.previous}"
    )
