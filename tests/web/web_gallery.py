"""A data directory holding a collection of generated scenes, indexed by the real indexer with the
built-in model, ready for ``anyseek serve``."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from sqlalchemy import select

from anyseek.db import migrate
from anyseek.db.models import Item
from anyseek.db.session import database_for
from anyseek.indexer.runner import run_index
from anyseek.scenes import SceneSample
from anyseek.settings import Settings

COLLECTION = "scenes"
FIRST_SEED = 993_000  # held out from the built-in model's training seeds
GALLERY_SIZE = 24


def scene_file(seed: int) -> str:
    """The file name a scene is stored under (the page shows it as the tile's alt text)."""
    return f"scene{seed}.png"


def write_scenes(folder: Path, scenes: list[SceneSample]) -> list[Path]:
    """Each scene's rgb as a PNG file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for scene in scenes:
        path = folder / scene_file(scene.seed)
        Image.fromarray(scene.rgb).save(path)
        paths.append(path)
    return paths


def build_gallery(settings: Settings, scenes: list[SceneSample], folder: Path) -> dict[int, int]:
    """Index the scenes (as PNG files in ``folder``) into the collection; {seed: item id}."""
    write_scenes(folder, scenes)
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    report = run_index(settings, COLLECTION, folder)
    assert report.status == "succeeded" and report.done == len(scenes), report
    by_name = {scene_file(s.seed): s.seed for s in scenes}
    try:
        with database.session() as session:
            rows = session.execute(select(Item.id, Item.source_uri)).all()
    finally:
        database.dispose()
    return {by_name[Path(uri).name]: item_id for item_id, uri in rows if Path(uri).name in by_name}
