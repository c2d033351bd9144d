"""What the worker tests share: their images and settings, a probe of the database, the check
that every image was indexed exactly once, and a view of PostgreSQL's lock waits."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select, text

from anyseek.db.models import (
    ChunkStatus,
    IndexChunk,
    Item,
    ItemEmbedding,
    ItemStatus,
    PendingVectors,
)
from anyseek.db.session import database_from_url
from anyseek.indexer.jobs import report
from anyseek.scenes import generate_scene
from anyseek.search.stores import open_store
from anyseek.settings import load_settings

IMAGES = 40
#: vectors per image: one per space of the built-in model (its bundle.json names them)
SPACES = len(
    json.loads(
        (
            Path(__file__).resolve().parents[2] / "model" / "builtin" / "weights" / "bundle.json"
        ).read_text()
    )["space_names"]
)
CHUNK = 4


def make_images(folder: Path, count: int = IMAGES, first: int = 0) -> None:
    """``count`` distinct generated 64 px scenes (seeds from ``first``)."""
    folder.mkdir(parents=True)
    for seed in range(first, first + count):
        Image.fromarray(generate_scene(seed, 64).rgb).save(folder / f"scene{seed:03d}.png")


def make_records(folder: Path, count: int = IMAGES) -> Path:
    """``count`` records of a photo, a depth map and a caption (issue 51), and their manifest."""
    from anyseek.scenes.modalities import MODALITIES

    depth = next(m for m in MODALITIES if m.name == "depth")
    make_images(folder, count)
    lines = []
    for seed in range(count):
        sample = generate_scene(seed, 64)
        Image.fromarray(depth.encode(sample)).save(folder / f"depth{seed:03d}.png")
        parts = {"rgb": f"scene{seed:03d}.png", "depth": f"depth{seed:03d}.png"}
        lines.append(json.dumps({"key": f"r{seed}", **parts, "caption": sample.captions[0]}))
    manifest = folder / "records.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def worker_settings(tmp_path: Path, database_url: str, broker_url: str):
    """Settings shared by the test and its worker processes."""
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url=broker_url,
        indexer={"chunk_size": CHUNK, "decode_workers": 1, "visibility_timeout_s": 3},
    )


class Probe:
    """Reads the job's progress and the database's item tables from the test process."""

    def __init__(self, url: str) -> None:
        self.database = database_from_url(url)

    def chunks_done(self, job_id: int) -> int:
        with self.database.session() as session:
            return session.scalar(
                select(func.count())
                .select_from(IndexChunk)
                .where(IndexChunk.job_id == job_id, IndexChunk.status == ChunkStatus.DONE)
            )

    def status(self, job_id: int) -> str:
        with self.database.session() as session:
            return report(session, job_id).status

    def exact_counts(self, job_id: int) -> tuple:
        """(job counts, items indexed, distinct hashes, embedding rows, outbox rows)."""
        with self.database.session() as session:
            result = report(session, job_id)
            items = session.execute(select(Item.status, Item.sha256)).all()
            embeddings = session.scalar(select(func.count()).select_from(ItemEmbedding))
            outbox = session.scalar(select(func.count()).select_from(PendingVectors))
            ids = set(session.scalars(select(Item.id)))
        indexed = sum(status == ItemStatus.INDEXED for status, _ in items)
        return (
            (result.status, result.done, result.failed, result.skipped),
            (len(items), indexed, len({sha for _, sha in items}), embeddings, outbox),
            ids,
        )


def check_exactly_once(settings, probe: Probe, job_id: int, images: int = IMAGES) -> None:
    """Every image indexed once: job counts, item rows, embeddings, outbox, store ids."""
    job, items, ids = probe.exact_counts(job_id)
    assert job == ("succeeded", images, 0, 0)
    assert items == (images, images, images, images * SPACES, 0)
    with open_store(settings) as store:
        assert store.count("kill") == images
        assert {stored.id for stored in store.retrieve("kill", sorted(ids), False)} == ids


def fault_settings(
    tmp_path: Path, database_url: str, broker_url: str, visibility_s: int = 300, **store: str
):
    """Settings shared by the test and its workers, on a Redis of the test's own (no other run
    purges its queues); by default Redis redelivers nothing during a test: no worker is
    killed, and a retried task waits out its countdown unacknowledged."""
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url=broker_url,
        store=store,
        indexer={"chunk_size": CHUNK, "decode_workers": 1, "visibility_timeout_s": visibility_s},
    )


def waiting_on_lock(engine) -> bool:
    """Whether a session waits to write the outbox table, which the test holds locked."""
    with engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND query LIKE '%pending_vectors%'"
            )
        ).scalar_one()
    return waiting > 0
