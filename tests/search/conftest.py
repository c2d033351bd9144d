"""Search fixtures: the built-in model and a gallery of held-out scenes in a FAISS store.

Until ``indexer.run_index`` lands, :func:`scene_gallery.index_scenes` fills the store the way it
will; swapping it in changes only the ``gallery`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scene_gallery import COLLECTION, FIRST_SEED, GALLERY_SIZE, Gallery, index_scenes

from anyseek.db import migrate
from anyseek.db.session import Database, database_from_url
from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample, generate_scene
from anyseek.search.stores import VectorStore, backend_class
from anyseek.search.stores.faiss_store import FaissStore
from anyseek.settings import StoreSettings


@pytest.fixture(scope="session")
def scenes() -> list[SceneSample]:
    return [generate_scene(FIRST_SEED + i, 64) for i in range(GALLERY_SIZE)]


@pytest.fixture(scope="session")
def gallery(
    search_model: SearchModel, scenes: list[SceneSample], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gallery]:
    folder: Path = tmp_path_factory.mktemp("faiss")
    store = FaissStore(StoreSettings(path=str(folder), exact_threshold=100_000))
    ids = index_scenes(search_model, store, COLLECTION, scenes)
    yield Gallery(search_model, store, COLLECTION, scenes, ids)
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at the current schema, once per backend (PostgreSQL: a fresh schema)."""
    if request.param == "sqlite":
        database = database_from_url(f"sqlite:///{tmp_path / 'anyseek.db'}", create_dirs=True)
        migrate.upgrade(database)
        yield database
        database.dispose()
        return
    url = request.getfixturevalue("postgres_schema_url")
    database = database_from_url(url)
    try:
        migrate.upgrade(database)
        yield database
    finally:
        database.dispose()


@pytest.fixture(params=["faiss", "qdrant"])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """An empty store of each backend (Qdrant in local mode, in memory)."""
    backend = request.param
    path = ":memory:" if backend == "qdrant" else str(tmp_path / backend)
    store = backend_class(backend)(StoreSettings(backend=backend, path=path))
    yield store
    store.close()
