"""Search fixtures: the built-in model and a gallery of held-out scenes in a FAISS store.

Until ``indexer.run_index`` lands, :func:`scene_gallery.index_scenes` fills the store the way it
will; swapping it in changes only the ``gallery`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scene_gallery import COLLECTION, FIRST_SEED, GALLERY_SIZE, Gallery, index_scenes

from anyseek.settings import StoreSettings
from model.data import SceneSample, generate_scene
from model.families.interface import SearchModel
from search.stores.faiss_store import FaissStore


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
