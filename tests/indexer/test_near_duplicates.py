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
from anyseek.indexer import run_index
from anyseek.scenes import generate_scene

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


def test_near_duplicates_are_found_within_one_kind_of_item(
    ready_settings, search_model, tmp_path
) -> None:
    """Issue 51: records of a photo and its depth map sit next to the photo alone (the photo
    weighs most in a record's vector) but are no copy of it; a record whose photo was
    re-encoded is a copy of the first record."""
    import json

    from anyseek.indexer.records import SourceForm
    from anyseek.scenes.modalities import MODALITIES

    depth = next(m for m in MODALITIES if m.name == "depth")
    samples = {n: generate_scene(7_200 + n, SIZE) for n in range(3)}
    photos = [_save(Image.fromarray(s.rgb), tmp_path / f"scene{n}.png") for n, s in samples.items()]
    for n, s in samples.items():
        _save(Image.fromarray(depth.encode(s)), tmp_path / f"depth{n}.png")
    _save(Image.fromarray(samples[0].rgb), tmp_path / "scene0-again.jpg", "JPEG", quality=80)
    rows = [{"key": f"r{n}", "rgb": f"scene{n}.png", "depth": f"depth{n}.png"} for n in samples]
    rows.append({"key": "r0-again", "rgb": "scene0-again.jpg", "depth": "depth0.png"})
    manifest = tmp_path / "records.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run_index(ready_settings, "kinds", photos, model=search_model).done == 3
    found = run_index(
        ready_settings, "kinds", manifest, model=search_model, form=SourceForm(manifest=True)
    )
    assert found.done == 4
    database = open_database(ready_settings)
    try:
        with database.session() as session:
            groups = duplicate_groups(session, "kinds")
    finally:
        database.dispose()
    linked = {
        Path(g.original.source_uri).name: [Path(d.source_uri).name for d in g.duplicates]
        for g in groups
    }
    assert linked == {"records.jsonl:1": ["records.jsonl:4"]}  # records, never photo-to-record
