"""Reliability fixtures: a small served gallery (the API tests' helpers) and hostile inputs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parents[1] / "api"))  # the API tests' app helpers

from api_helpers import Served, serve

from anyseek.scenes import SceneSample, generate_scene

FIRST_SEED = 993_000  # held out from the built-in model's training seeds


@pytest.fixture(scope="session")
def few_scenes() -> list[SceneSample]:
    """Six generated scenes: enough for a search to have something to rank."""
    return [generate_scene(FIRST_SEED + i, 64) for i in range(6)]


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, search_model, few_scenes: list[SceneSample]
) -> Iterator[Served]:
    """An app with a small query pixel limit and a short decode time limit, to hit both fast."""
    yield from serve(
        tmp_path_factory.mktemp("reliability-api"),
        search_model,
        few_scenes,
        max_query_pixels=1_000_000,
        query_decode_timeout_s=0.1,
        max_upload_mb=2,
    )
