"""What must hold of a collection after any crash and a re-run: every image exactly once, indexed,
with its vectors; nothing pending, nothing staged, no vector without its item."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from anyseek.db.models import Collection, Item, ItemStatus, PendingVectors
from anyseek.db.session import database_for
from anyseek.search.stores import open_store
from anyseek.settings import Settings

KILLER = Path(__file__).with_name("kill_indexer.py")
ROOT = Path(__file__).parents[2]


@dataclass(frozen=True)
class CollectionState:
    """Counts of one collection after a run (all must match the images for a sound index)."""

    items: int
    distinct: int
    indexed: int
    pending: int
    staged: int
    vectors: int
    stray_vectors: int  # vectors whose id is no item of the collection
    orphans: int  # pending items without their staged vectors: lost unless recovered


def collection_state(settings: Settings, collection: str) -> CollectionState:
    """Read the database and the store of one collection."""
    database = database_for(settings)
    try:
        with database.session() as session:
            owner = session.scalar(select(Collection.id).where(Collection.name == collection))
            rows = session.execute(
                select(Item.id, Item.sha256, Item.status).where(Item.collection_id == owner)
            ).all()
            staged_ids = set(
                session.scalars(
                    select(PendingVectors.item_id).where(PendingVectors.collection_id == owner)
                )
            )
    finally:
        database.dispose()
    ids = {row[0] for row in rows}
    with open_store(settings) as store:
        present = collection in store.collections()  # a kill before the first flush: not yet
        stored = store.count(collection) if present else 0
        found = (
            {i.id for i in store.retrieve(collection, sorted(ids))} if ids and present else set()
        )
    return CollectionState(
        items=len(rows),
        distinct=len({row[1] for row in rows}),
        indexed=sum(row[2] == ItemStatus.INDEXED for row in rows),
        pending=sum(row[2] == ItemStatus.PENDING for row in rows),
        staged=len(staged_ids),
        vectors=len(found),
        stray_vectors=stored - len(found),
        orphans=sum(row[2] == ItemStatus.PENDING and row[0] not in staged_ids for row in rows),
    )


def sound(state: CollectionState, images: int) -> bool:
    """Every image once, indexed, with its vectors, and nothing else left behind."""
    return state == CollectionState(images, images, images, 0, 0, images, 0, 0)


def killed_run(
    env: dict[str, str], source: Path, collection: str, when: str, n: int, timeout: float = 300
) -> int:
    """Run the indexer in a child killed at its Nth commit; the child's return code."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    child_env.update(env, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(KILLER), str(source), collection, when, str(n)],
        env=child_env,
        capture_output=True,
        timeout=timeout,
    )
    return done.returncode
