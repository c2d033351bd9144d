"""API fixtures: the built-in model, generated scenes, and apps serving them (see api_helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_helpers import FIRST_SEED, GALLERY_SIZE, KEY, Served, serve

from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample, generate_scene


@pytest.fixture(scope="session")
def scenes() -> list[SceneSample]:
    return [generate_scene(FIRST_SEED + i, 64) for i in range(GALLERY_SIZE)]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, search_model: SearchModel, scenes: list[SceneSample]
) -> Iterator[Served]:
    """The app without API keys."""
    yield from serve(tmp_path_factory.mktemp("api"), search_model, scenes)


@pytest.fixture(scope="module")
def served_with_keys(
    tmp_path_factory: pytest.TempPathFactory, search_model: SearchModel, scenes: list[SceneSample]
) -> Iterator[Served]:
    """The app with one API key, a 1 MB upload cap and a 10,000-pixel image cap."""
    yield from serve(
        tmp_path_factory.mktemp("api-keys"),
        search_model,
        scenes[:8],
        api_keys=[KEY],
        max_upload_mb=1,
        max_image_pixels=10_000,
        max_query_pixels=10_000,
    )
