"""kill -9 of the indexer at several points, on SQLite and PostgreSQL: a re-run finishes the job
with every image indexed exactly once (issue 24: the first image of a chunk was lost on SQLite).
The bench (bench/reliability.py) kills at 20 points; CI kills at a few."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from indexing_checks import collection_state, killed_run, sound

from anyseek.db import migrate
from anyseek.db.session import database_for
from anyseek.indexer import run_index
from anyseek.scenes import generate_scene
from anyseek.settings import load_settings

IMAGES = 9
CHUNK = 3
# (before: mid-transaction | after: just committed, Nth commit of a 31-commit run)
POINTS = [("before", 12), ("after", 20)]


def _write_images(folder: Path) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for n in range(IMAGES):
        Image.fromarray(generate_scene(995_000 + n, 64).rgb).save(folder / f"s{n}.png")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kill-images")
    _write_images(folder)
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty migrated database of each backend (PostgreSQL: a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'anyseek.db'}"
        return
    yield request.getfixturevalue("postgres_schema_url")


@pytest.mark.slow
@pytest.mark.parametrize(("when", "n"), POINTS)
def test_a_rerun_after_kill_9_loses_nothing(
    database_url: str, images: Path, tmp_path: Path, search_model, when: str, n: int, settings
) -> None:
    env = {
        "ANYSEEK_DATA_DIR": str(tmp_path / "data"),
        "ANYSEEK_DATABASE_URL": database_url,
        "ANYSEEK_INDEXER__CHUNK_SIZE": str(CHUNK),
        "ANYSEEK_INDEXER__FLUSH_INTERVAL_S": "0",
    }
    config = load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        indexer={"chunk_size": CHUNK, "flush_interval_s": 0},
    )
    database = database_for(config, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()

    assert killed_run(env, images, "k", when, n) == -signal.SIGKILL
    left = collection_state(config, "k")
    assert left.orphans == 0, left  # every pending item has its vectors beside it
    assert left.stray_vectors == 0, left

    again = run_index(config, "k", images, model=search_model)
    assert again.status == "succeeded", again
    assert again.failed == 0
    state = collection_state(config, "k")
    assert sound(state, IMAGES), state
    assert again.recovered == left.pending  # the report counts what the crash left pending
