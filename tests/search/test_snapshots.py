"""The paging snapshot's watermark: the newest indexed id of one collection, found in one probe."""

from __future__ import annotations

from postgres_plan import items_plan
from sqlalchemy import insert, inspect

from anyseek.db import repository
from anyseek.db.models import Item, ItemStatus
from anyseek.db.session import Database
from anyseek.search.snapshots import CollectionWatermark, watermark_statement


def _fill(database: Database) -> None:
    """Two collections; in "photos" the newest item is still pending and one failed."""
    with database.session() as session:
        photos = repository.create_collection(session, "photos")
        other = repository.create_collection(session, "other")
        session.flush()
        rows = [
            (photos.id, ItemStatus.INDEXED, 2000),
            (other.id, ItemStatus.INDEXED, 1000),
            (photos.id, ItemStatus.FAILED, 2),
            (other.id, ItemStatus.INDEXED, 1),  # the newest id overall, another collection's
            (photos.id, ItemStatus.PENDING, 1),
        ]
        next_id = 1
        for collection_id, status, count in rows:
            session.execute(
                insert(Item),
                [
                    {
                        "id": next_id + i,
                        "collection_id": collection_id,
                        "sha256": f"{next_id + i:064x}",
                        "source_uri": f"/img/{next_id + i}.jpg",
                        "status": status,
                    }
                    for i in range(count)
                ],
            )
            next_id += count


def test_the_watermark_is_the_newest_indexed_item_of_that_collection(
    migrated_database: Database,
) -> None:
    _fill(migrated_database)
    watermark = CollectionWatermark(migrated_database)
    assert watermark("photos") == 2000
    assert watermark("other") == 3003
    assert watermark("nothing-here") is None


def test_postgres_reads_the_watermark_from_the_end_of_one_index(
    migrated_database: Database,
) -> None:
    if migrated_database.engine.dialect.name != "postgresql":
        return  # SQLite's indexes end with the row id: the plan question is PostgreSQL's
    _fill(migrated_database)
    plan = items_plan(migrated_database, watermark_statement("photos"))
    # max() as a LIMIT 1 backward index scan (the planner picks the index, by its statistics):
    # a probe from the newest end, not an aggregate over every indexed row of the collection
    # (what the old join to collections got: 170 ms a search at one million items)
    assert "Backward" in plan and "Aggregate" not in plan, plan
    indexes = inspect(migrated_database.engine).get_indexes("items")
    assert ["collection_id", "status", "id"] in [i["column_names"] for i in indexes]
