"""Near-duplicates on a made corpus, on both stores and both databases (FAISS and Qdrant on
SQLite, FAISS on PostgreSQL): re-encoded, resized, cropped and recoloured copies of indexed scenes
are kept and linked to their original (also within one batch); distinct scenes are never linked;
a collection's threshold 0 turns it off."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageEnhance

from anyseek.db import repository
from anyseek.db.duplicates import duplicate_groups, set_threshold
from anyseek.db.migrate import open_database
from indexer import run_index
from model.data import generate_scene

SIZE = 128


def _scene(seed: int) -> Image.Image:
    return Image.fromarray(generate_scene(seed, SIZE).rgb)


def _save(image: Image.Image, path: Path, fmt: str = "PNG", **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    path.write_bytes(out.getvalue())
    return path


def _groups(settings, collection: str) -> dict[str, list[str]]:
    """First item's file name -> its near-duplicates' file names."""
    database = open_database(settings)
    try:
        with database.session() as session:
            groups = duplicate_groups(session, collection)
    finally:
        database.dispose()
    return {
        Path(g.original.source_uri).name: sorted(Path(d.source_uri).name for d in g.duplicates)
        for g in groups
    }


def test_copies_are_linked_to_their_originals(paired_settings, search_model, tmp_path) -> None:
    scenes = {n: _scene(7_100 + n) for n in range(5)}
    originals = [_save(img, tmp_path / "a" / f"scene{n}.png") for n, img in scenes.items()]
    w, h = scenes[1].size
    copies = [
        _save(scenes[0], tmp_path / "b" / "scene0-reencoded.jpg", "JPEG", quality=70),
        _save(scenes[1].crop((8, 8, w - 8, h - 8)), tmp_path / "b" / "scene1-cropped.png"),
        _save(
            ImageEnhance.Color(scenes[2]).enhance(1.15), tmp_path / "b" / "scene2-recoloured.png"
        ),
        _save(scenes[3].resize((77, 77)), tmp_path / "b" / "scene3-resized.png"),
    ]
    first = run_index(paired_settings, "made", originals, model=search_model)
    assert first.done == len(originals)
    assert _groups(paired_settings, "made") == {}  # distinct scenes are not near-duplicates
    second = run_index(paired_settings, "made", copies, model=search_model)
    assert second.done == len(copies)  # kept: near-duplicates are indexed and searchable
    assert _groups(paired_settings, "made") == {
        "scene0.png": ["scene0-reencoded.jpg"],
        "scene1.png": ["scene1-cropped.png"],
        "scene2.png": ["scene2-recoloured.png"],
        "scene3.png": ["scene3-resized.png"],
    }


def test_copies_within_one_batch_and_threshold_off(paired_settings, search_model, tmp_path) -> None:
    scene = _scene(7_200)
    batch = [
        _save(scene, tmp_path / "c" / "a-original.png"),
        _save(scene, tmp_path / "c" / "b-copy.jpg", "JPEG", quality=80),
        _save(scene.resize((90, 90)), tmp_path / "c" / "c-small.png"),
        _save(_scene(7_201), tmp_path / "c" / "d-other.png"),
    ]
    run_index(paired_settings, "batch", batch, model=search_model)
    groups = _groups(paired_settings, "batch")
    assert groups == {"a-original.png": ["b-copy.jpg", "c-small.png"]}  # one group, one root
    database = open_database(paired_settings)
    with database.session() as session:
        repository.create_collection(session, "off")
        set_threshold(session, "off", 0.0)
    database.dispose()
    run_index(paired_settings, "off", batch, model=search_model)
    assert _groups(paired_settings, "off") == {}
