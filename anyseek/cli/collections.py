"""``anyseek collections``: create, list and delete collections of images."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import typer

from anyseek.cli.context import settings_of
from anyseek.cli.database import checked_database
from anyseek.cli.lazy import LazyModule
from anyseek.cli.output import echo_table
from anyseek.cli.versions import rollback, versions
from anyseek.cli.writer import ServerWriter, claim_store

# the database layer loads SQLAlchemy (~1 s cold): only when a collections command runs
repository = LazyModule("anyseek.db.repository")
duplicates = LazyModule("anyseek.db.duplicates")
exif = LazyModule("anyseek.indexer.exif")

app = typer.Typer(help="Create, list and delete image collections.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="new collection name"),
    near_duplicates: float | None = typer.Option(
        None,
        "--near-duplicates",
        help="mean cosine at which a new image is linked as a near-duplicate (0 = never; "
        "default ANYSEEK_INDEXER__NEAR_DUPLICATE_THRESHOLD)",
    ),
) -> None:
    """Create an empty collection called NAME, in the database and the store, with every space
    of the configured model (what `POST /v1/collections` does; a running server that writes the
    same store creates it itself)."""
    from anyseek.indexer.collections import create_collection
    from anyseek.indexer.runtime import process_model
    from anyseek.search.stores.writer_lock import WriterBusyError

    settings = settings_of(ctx)
    try:
        store = claim_store(settings)
    except WriterBusyError as busy:
        server = ServerWriter(settings, busy, f"collections create {name}")
        body = {"name": name, "near_duplicate_threshold": near_duplicates}
        server.call("POST", "/v1/collections", {k: v for k, v in body.items() if v is not None})
        typer.echo(f"created collection {name!r} (through {server.who})")
        return
    try:
        model = process_model(settings)
        with checked_database(ctx) as database, database.session() as session:
            create_collection(session, store, model, name, settings.model.source)
            if near_duplicates is not None:
                duplicates.set_threshold(session, name, near_duplicates)
    finally:
        store.close()
    typer.echo(f"created collection {name!r}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """List collections with their item and job counts."""
    with checked_database(ctx) as database, database.session() as session:
        summaries = repository.list_collections(session)
    if as_json:
        rows = [dataclasses.asdict(summary) for summary in summaries]
        typer.echo(json.dumps(rows, indent=2, default=str))
    elif not summaries:
        typer.echo("no collections yet: create one with `anyseek collections create NAME`")
    else:
        echo_collections(summaries)


def echo_collections(summaries: list) -> None:
    """Print collection summaries as a table (shared with ``anyseek demo``)."""
    echo_table(
        (
            "name",
            "items",
            "indexed",
            "pending",
            "failed",
            "jobs",
            "spaces",
            "model",
            "precision",
            "created",
        ),
        [
            (
                s.name,
                s.items,
                s.indexed,
                s.pending,
                s.failed,
                s.jobs,
                s.spaces,
                s.model,
                s.precision or "-",
                s.created_at,
            )
            for s in summaries
        ],
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="collection to delete"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
) -> None:
    """Delete collection NAME with its items, jobs, vectors and thumbnails (what `DELETE
    /v1/collections/NAME` does; a running server that writes the same store deletes it itself)."""
    from anyseek.indexer.collections import delete_collection
    from anyseek.search.stores.writer_lock import WriterBusyError

    settings = settings_of(ctx)
    with checked_database(ctx) as database:
        with database.session() as session:
            summary = repository.summarize(session, [repository.get_collection(session, name)])[0]
        if not yes:
            typer.confirm(
                f"Delete collection {name!r} with {summary.items} items and {summary.jobs} jobs?",
                abort=True,
            )
        try:
            store = claim_store(settings)
        except WriterBusyError as busy:
            server = ServerWriter(settings, busy, f"collections delete {name} --yes")
            deleted = SimpleNamespace(**server.call("DELETE", f"/v1/collections/{name}"))
        else:
            try:
                with database.session() as session:
                    deleted = delete_collection(settings, session, store, name)
            finally:
                store.close()
    typer.echo(f"deleted collection {name!r} ({deleted.items} items, {deleted.jobs} jobs)")


@app.command("items")
def items(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="collection to list"),
    sort: str = typer.Option(
        "id",
        "--sort",
        help="id (indexing order), taken (date taken, oldest first) or -taken (newest first); "
        "items without a date taken follow, by id",
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="items to show"),
    offset: int = typer.Option(0, "--offset", min=0, help="items to skip first"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """List a collection's items with their photo facts, by id or by date taken."""
    if sort not in exif.SORTS:
        raise typer.BadParameter(
            f"one of {', '.join(exif.SORTS)}, got {sort!r}", param_hint="--sort"
        )
    with checked_database(ctx) as database, database.session() as session:
        rows = exif.list_items(session, name, sort, offset, limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    shown = ("taken", "camera_model", "lens", "gps_lat", "gps_lon")
    echo_table(
        ("id", "path", "status", *shown),
        [(r["id"], r["path"], r["status"], *(r["metadata"].get(f) for f in shown)) for r in rows],
    )


app.command("versions")(versions)
app.command("rollback")(rollback)
