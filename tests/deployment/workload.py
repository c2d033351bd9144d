"""A bulk job on the test bed and what must hold after it: every image indexed exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cluster import HTTP, Cluster
from PIL import Image
from sqlalchemy import func, or_, select

from anyseek.db.models import (
    ChunkStatus,
    Collection,
    IndexChunk,
    Item,
    ItemStatus,
    PendingVectors,
)
from anyseek.db.session import Database, database_from_url
from anyseek.scenes import generate_scene
from anyseek.search.stores import open_store
from anyseek.settings import load_settings


def make_images(folder: Path, count: int, first_seed: int = 0) -> None:
    """``count`` distinct generated scenes (96 px PNGs) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(first_seed, first_seed + count):
        Image.fromarray(generate_scene(seed, 96).rgb).save(folder / f"scene{seed:05d}.png")


def submit(cluster: Cluster, collection: str, source: Path) -> int:
    """POST /v1/jobs to the API host: the job's id (the API hands it to the workers)."""
    response = HTTP.post(
        f"{cluster.api_url}/v1/jobs", json={"collection": collection, "source": str(source)}
    )
    assert response.status_code in (200, 201, 202), response.text
    return response.json()["id"]


@dataclass(frozen=True)
class Outcome:
    """The state of one job's collection: every count must equal the number of files."""

    files: int
    status: str
    job_done: int
    job_failed: int
    items: int
    distinct: int
    indexed: int
    staged: int
    vectors: int

    @property
    def lost(self) -> int:
        return self.files - min(self.indexed, self.vectors, self.job_done)

    @property
    def duplicated(self) -> int:
        return max(self.items - self.distinct, self.vectors - self.indexed, 0)

    @property
    def exactly_once(self) -> bool:
        n = self.files
        counts = (self.job_done, self.items, self.distinct, self.indexed, self.vectors)
        return self.status == "succeeded" and counts == (n,) * 5 and self.staged == 0


class Probe:
    """Reads jobs and items from the bed's database, as an operator's script would."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.database: Database = database_from_url(cluster.postgres.url)

    def job(self, job_id: int) -> dict:
        """The job as the API reports it, read from the database (the API may be down)."""
        from anyseek.indexer.jobs import report

        with self.database.session() as session:
            found = report(session, job_id)
        return {"status": found.status, "done": found.done, "failed": found.failed}

    def indexed(self, collection: str) -> int:
        with self.database.session() as session:
            owner = select(Collection.id).where(Collection.name == collection).scalar_subquery()
            return session.scalar(
                select(func.count())
                .select_from(Item)
                .where(Item.collection_id == owner, Item.status == ItemStatus.INDEXED)
            )

    def outcome(self, job_id: int, collection: str, files: int) -> Outcome:
        job = self.job(job_id)
        with self.database.session() as session:
            owner = session.scalar(select(Collection.id).where(Collection.name == collection))
            rows = session.execute(
                select(Item.id, Item.sha256, Item.status).where(Item.collection_id == owner)
            ).all()
            staged = session.scalar(
                select(func.count())
                .select_from(PendingVectors)
                .where(PendingVectors.collection_id == owner)
            )
        settings = load_settings(
            data_dir=self.cluster.api_data, store={"path": str(self.cluster.api_data / "faiss")}
        )
        with open_store(settings) as store:
            vectors = store.count(collection) if collection in store.collections() else 0
        return Outcome(
            files=files,
            status=job["status"],
            job_done=job["done"],
            job_failed=job["failed"],
            items=len(rows),
            distinct=len({row[1] for row in rows}),
            indexed=sum(row[2] == ItemStatus.INDEXED for row in rows),
            staged=staged,
            vectors=vectors,
        )

    def held_chunk(self, pids: list[int]) -> tuple[int, int] | None:
        """The pending chunk (job id, seq) whose lease one of the processes ``pids`` holds."""
        owners = [IndexChunk.owner.like(f"%:{pid}") for pid in pids]
        if not owners:
            return None
        with self.database.session() as session:
            row = session.execute(
                select(IndexChunk.job_id, IndexChunk.seq).where(
                    IndexChunk.status == ChunkStatus.PENDING, or_(*owners)
                )
            ).first()
        return (row[0], row[1]) if row else None

    def chunk_finished_at(self, job_id: int, seq: int) -> datetime | None:
        """When a chunk was staged (by whichever worker), None while it is not."""
        with self.database.session() as session:
            chunk = session.get(IndexChunk, (job_id, seq))
            return chunk.finished_at if chunk.status == ChunkStatus.DONE else None

    def close(self) -> None:
        self.database.dispose()
