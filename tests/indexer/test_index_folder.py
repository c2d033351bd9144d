"""In-process indexing of a folder with good and broken images, with the real built-in model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from indexing_images import write_broken, write_good_images, write_odd_modes
from PIL import Image
from sqlalchemy import func, select

from anyseek.db.migrate import open_database
from anyseek.db.models import Item, ItemEmbedding, ItemStatus, PendingVectors
from anyseek.indexer import run_index, thumbnail_path
from anyseek.search.stores import open_store


def db_counts(settings) -> dict[str, int]:
    """Items by status, item-embedding rows and outbox rows in the settings' database."""
    database = open_database(settings)
    try:
        with database.session() as session:
            by_status = dict(
                session.execute(select(Item.status, func.count()).group_by(Item.status)).all()
            )
            return {
                "indexed": by_status.get(ItemStatus.INDEXED, 0),
                "pending": by_status.get(ItemStatus.PENDING, 0),
                "embeddings": session.scalar(select(func.count()).select_from(ItemEmbedding)),
                "outbox": session.scalar(select(func.count()).select_from(PendingVectors)),
            }
    finally:
        database.dispose()


def item_ids_by_path(settings, store, collection: str) -> dict[str, int]:
    """Store payload path -> item id, read back from the store for every database item."""
    database = open_database(settings)
    try:
        with database.session() as session:
            ids = list(session.scalars(select(Item.id)))
    finally:
        database.dispose()
    return {stored.payload["path"]: stored.id for stored in store.retrieve(collection, ids)}


@pytest.mark.slow
def test_folder_with_broken_files_indexes_exactly_the_good_ones(
    ready_settings, search_model, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    good = write_good_images(root)
    odd = write_odd_modes(root)
    broken = write_broken(root)
    shutil.copy(good[0], root / "sub" / "copy-of-scene0.png")  # same bytes: skipped
    settings = ready_settings.model_copy(
        update={"indexer": ready_settings.indexer.model_copy(update={"chunk_size": 4})}
    )

    report = run_index(settings, "photos", root, model=search_model, progress=True)

    assert report.status == "partial"  # failures beside indexed images (README, how a job ends)
    assert (report.total, report.done, report.failed, report.skipped) == (
        len(good) + len(odd) + len(broken) + 1,
        len(good) + len(odd),
        len(broken),
        1,
    )
    reasons = {Path(uri).name: reason for uri, reason in report.failures}
    assert set(reasons) == {path.name for path in broken.values()}
    assert "empty file" in reasons["empty.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert "above the limit of 40 MP" in reasons["bomb.png"]
    assert "damaged or incomplete" in reasons["truncated.png"]
    indexed = len(good) + len(odd)
    assert db_counts(settings) == {
        "indexed": indexed,
        "pending": 0,
        "embeddings": indexed * len(search_model.spaces),
        "outbox": 0,
    }

    with open_store(settings) as store:
        assert store.count("photos") == indexed
        ids = item_ids_by_path(settings, store, "photos")
        # the vectors are found by a search: each scene is its own nearest neighbour
        for path in good:
            relative = path.relative_to(root).as_posix()
            query = search_model.embed_images(search_model.image_input(path)[None])
            for space in [s.name for s in search_model.spaces]:
                hit = store.search("photos", space, query[space][0], k=1)[0].hits[0]
                assert hit.id == ids[relative]
                assert hit.score == pytest.approx(1.0, abs=1e-5)
        stored = store.retrieve("photos", [ids["sub/scene1.png"]], with_vectors=False)[0]
    assert stored.payload["folder"] == "sub" and stored.payload["ext"] == "png"
    assert (stored.payload["width"], stored.payload["height"]) == (64, 64)
    assert stored.payload["bytes"] == good[1].stat().st_size
    assert stored.payload["mtime"] == int(good[1].stat().st_mtime)
    assert len(stored.payload["sha256"]) == 64
    with Image.open(thumbnail_path(settings, "photos", ids["cmyk.jpg"])) as thumb:
        assert thumb.size == (256, 128)

    again = run_index(settings, "photos", root, model=search_model)

    assert (again.total, again.done, again.failed, again.skipped) == (
        report.total,
        0,
        len(broken),
        report.total - len(broken),
    )
    assert db_counts(settings)["indexed"] == indexed


def test_reindexing_the_same_image_gives_identical_vectors(search_model, tmp_path: Path) -> None:
    path = write_good_images(tmp_path, count=1)[0]
    batch = search_model.image_input(path)[None]
    first, second = search_model.embed_images(batch), search_model.embed_images(batch)
    for space in first:
        np.testing.assert_array_equal(first[space], second[space])
