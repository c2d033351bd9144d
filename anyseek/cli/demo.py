"""``anyseek demo``: the main job on the embedded default (SQLite + FAISS + built-in model).

It prepares the data directory and the database (migrating it to the newest schema), generates a
gallery of scenes (their images, sketches, depth maps, segmentations and captions), indexes the
images with the configured model, asks every scene's sketch, depth map, segmentation and caption
for its own image and prints how often it comes first and in the top 10, then serves the API.
A second run reuses the gallery and the index (every image is skipped by its hash).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

from anyseek.cli.collections import echo_collections
from anyseek.cli.context import settings_of
from anyseek.cli.extras import require_extra
from anyseek.cli.output import echo_table
from anyseek.errors import ServiceUnavailableError
from anyseek.settings import Settings

if TYPE_CHECKING:  # the database and the stores load when the demo runs, not for every command
    from anyseek.db.models import IndexJob
    from anyseek.db.session import Database
    from anyseek.search.stores import StoreHealth

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


COLLECTION = "demo"
GALLERY_SEED = 777_001  # held out: the built-in model never saw these scenes in training
EXAMPLE_HITS = 5


def demo(
    ctx: typer.Context,
    n: int = typer.Option(2000, "--n", min=10, max=200_000, help="scenes in the gallery"),
    queries: int = typer.Option(100, "--queries", min=1, help="scenes asked per query kind"),
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="processes generating"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the API afterwards"),
    host: str | None = typer.Option(
        None, "--host", help="address to serve on (default ANYSEEK_API__HOST, 127.0.0.1)"
    ),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="port to serve on (default ANYSEEK_API__PORT, 8000)"
    ),
) -> None:
    """Generate a gallery, index it, run example queries with known answers, then serve."""
    require_extra("scenes", "demo")
    settings = settings_of(ctx)
    given = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update={"api": settings.api.model_copy(update=given)})
    database = prepare(settings)
    try:
        health = report_store(settings)
        if not health.ready:
            raise ServiceUnavailableError(f"the vector store is not ready: {health.detail}")
        run_gallery(settings, database, n, min(queries, n), workers)
        report(database)
    finally:
        database.dispose()
    if serve:
        from anyseek.cli.serve import serve_api

        serve_api(settings)


def run_gallery(settings: Settings, database: Database, n: int, queries: int, workers: int) -> None:
    """Make (or reuse) the gallery, index it, and score every kind of example query on it."""
    from anyseek.cli.demo_gallery import (
        CAPTIONS,
        SIZE,
        SPLIT,
        ask,
        ask_captions,
        example_scene,
        gallery_ready,
        indexed_count,
        item_ids,
        write_captions,
    )
    from anyseek.indexer import run_index
    from anyseek.indexer.records import SourceForm
    from anyseek.scenes.synth import SynthRequest, synthesize
    from anyseek.search.searcher import open_searcher

    start = time.perf_counter()
    searcher = open_searcher(settings)
    try:
        model = searcher.model
        spaces = ", ".join(f"{s.name} ({s.dim}-d)" for s in model.spaces)
        typer.echo(
            f"model           {model.name} {model.version}, {time.perf_counter() - start:.1f} s "
            f"to load; spaces {spaces}"
        )
        typer.echo(f"  queries by    {', '.join(model.query_modalities)}")
        root = settings.data_dir / "demo" / "scenes"
        if not gallery_ready(root, n, GALLERY_SEED):
            typer.echo(f"\ngenerating {n} scenes into {root / SPLIT}")
            request = SynthRequest(root, n, SIZE, GALLERY_SEED, workers, SPLIT, overwrite=True)
            synthesize(request, progress=True)
        images = root / SPLIT / "rgb"
        ids = item_ids(database, COLLECTION, images)
        if len(ids) >= n:  # a re-run: nothing to index, so no job that indexed nothing
            typer.echo(f"\ncollection {COLLECTION!r} already holds the {n} scenes' images")
        else:
            typer.echo(f"\nindexing {images} into collection {COLLECTION!r}")
            done = run_index(
                settings, COLLECTION, images, model=model, store=searcher.store, progress=True
            )
            typer.echo(
                f"job {done.job_id} {done.status}: {done.done} indexed, {done.skipped} already "
                f"there, {done.failed} failed"
            )
            ids = item_ids(database, COLLECTION, images)
        typer.echo(f"\nasking {queries} scenes by each query kind (answer: the scene's own image)")
        accepted = set(model.query_modalities)
        scores = ask(searcher.search_many, COLLECTION, root, ids, range(queries), accepted)
        other_way = None
        if {"caption", "image"} <= accepted:  # any to any: a photo asking for its caption
            captions = write_captions(root, range(queries))
            if indexed_count(database, CAPTIONS) < queries:  # a re-run adds no job
                run_index(
                    settings, CAPTIONS, captions, model=model, store=searcher.store,
                    form=SourceForm("caption"),
                )  # fmt: skip
            other_way = ask_captions(searcher.search_many, root, range(queries))
    finally:
        searcher.close()
    echo_table(
        ("query", "asked", "R@1", "R@10"),
        [(s.name, s.asked, f"{s.r1:.2f}", f"{s.r10:.2f}") for s in scores],
    )
    scene = example_scene(scores, ids, EXAMPLE_HITS)
    wanted = ids.get(scene)
    typer.echo(
        f"\nan example, scene {scene} (item {wanted}), asked by each kind: its top "
        f"{EXAMPLE_HITS} as item (score); * marks the scene's own image, the right answer"
    )
    for s in scores:
        hits = s.answers[scene].hits[:EXAMPLE_HITS]
        top = [f"{'*' if h.id == wanted else ''}{h.id} ({h.score:.2f})" for h in hits]
        typer.echo(f"  {s.name:<15} {'  '.join(top)}")
    typer.echo("(the page shows each hit's relevance, 0-1, which means the same for every kind)")
    if other_way is not None:
        show_captions(other_way, scene)


def show_captions(score, scene: int) -> None:
    """The other way round: photos asking a collection of captions for their own."""
    from anyseek.cli.demo_gallery import CAPTIONS

    typer.echo(
        f"\nthe other way round: each asked scene's photo searches {score.asked} captions "
        f"(collection {CAPTIONS!r}): R@1 {score.r1:.2f}, R@10 {score.r10:.2f}; scene "
        f"{scene}'s photo finds (* its own caption):"
    )
    for hit in score.answers[scene].hits[:3]:
        own = "*" if hit.payload.get("key") == f"scene {scene}" else " "
        typer.echo(f"  {own} {hit.score:.2f}  {hit.payload.get('caption', '')}")


def report_store(settings: Settings) -> StoreHealth:
    """Open the configured vector store and say whether it is ready and what it holds."""
    from anyseek.search.stores import open_store

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
    return health


def prepare(settings: Settings) -> Database:
    """Create the data directory and bring the database to the newest schema."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for, display_url, make_dir

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
    from anyseek.db import repository

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
