"""Items of any modality (issue 51): folders of depth maps or sketches, JSON lines of captions,
manifests of records holding several modalities at once, indexed with the real built-in model and
asked by every other kind; identity by all parts; bad entries failed one by one, with reasons."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from indexing_images import write_scene_parts

from anyseek.db.migrate import session_for
from anyseek.db.models import IndexJob, Item
from anyseek.indexer import run_index
from anyseek.indexer.errors import ModalityError
from anyseek.indexer.records import SourceForm
from anyseek.search.fields import FilterSpec, resolve_filter
from anyseek.search.query import QueryPart, SearchQuery
from anyseek.search.searcher import Searcher
from anyseek.search.stores import open_store

SCENES = 6


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Six generated scenes, every modality written, and their first captions."""
    root = tmp_path_factory.mktemp("scenes")
    return root, write_scene_parts(root, SCENES)


def _captions_file(root: Path, captions: list[str], extra: bytes = b"") -> Path:
    path = root / "captions.jsonl"
    lines = [
        json.dumps({"text": c, "key": f"scene{i}", "split": "a"}) for i, c in enumerate(captions)
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode() + extra)
    return path


def _top(settings, model, collection: str, *parts: QueryPart, filter_spec=None) -> list[dict]:
    """The payloads of the best hits for a query, best first."""
    store = open_store(settings)
    try:
        query_filter = None
        if filter_spec is not None:
            query_filter = resolve_filter(filter_spec, {})
        found = Searcher(model, store).search(
            SearchQuery(collection, parts, k=SCENES, filter=query_filter)
        )
        return [hit.payload for hit in found.hits]
    finally:
        store.close()


def test_a_folder_of_depth_maps_is_found_by_caption_with_key_and_modalities(
    paired_settings, search_model, scenes
):
    """A folder of depth maps (16-bit PNG) on every store and database: the depth map of the
    scene a caption describes comes first, and every hit names its key and modality."""
    root, captions = scenes
    found = run_index(
        paired_settings, "depths", root / "depth", model=search_model, form=SourceForm("depth")
    )
    assert (found.status, found.done, found.failed) == ("succeeded", SCENES, 0)
    hits = _top(paired_settings, search_model, "depths", QueryPart("caption", captions[3]))
    assert hits[0]["key"] == "000003.png"
    assert all(hit["modalities"] == ["depth"] for hit in hits)
    with session_for(paired_settings) as session:
        item = session.query(Item).filter(Item.source_uri.like("%000003.png")).one()
        assert item.parts == {"depth": str(root / "depth" / "000003.png")}


def test_a_photo_finds_its_caption_and_bad_lines_fail_one_by_one(
    ready_settings, search_model, scenes
):
    """Retrieval as captioning: a photo asked against a JSON-lines file of captions gets its own
    caption first; an empty text, a line that is not JSON and one that is not UTF-8 each fail
    with their reason, and the other lines are indexed."""
    root, captions = scenes
    source = _captions_file(
        root, captions, b'{"text": "  "}\nnot json\n{"text": "\xff\xfe a cube"}\n{"key": "x"}\n'
    )
    found = run_index(
        ready_settings, "caps", source, model=search_model, form=SourceForm("caption")
    )
    assert (found.done, found.failed) == (SCENES, 4)
    reasons = {uri.rsplit(":", 1)[1]: why for uri, why in found.failures}
    assert "the caption is empty" in reasons[str(SCENES + 1)]
    assert "type a few words" not in reasons[str(SCENES + 1)]  # a file's line, not a query box
    lines = [int(uri.rsplit(":", 1)[1]) for uri, _ in found.failures]
    assert lines == sorted(lines), lines  # listed in the file's order
    assert reasons[str(SCENES + 2)].startswith("not JSON")
    assert reasons[str(SCENES + 3)].startswith("not UTF-8")
    assert "'text'" in reasons[str(SCENES + 4)]
    image = (root / "rgb" / "000002.png").read_bytes()
    hits = _top(ready_settings, search_model, "caps", QueryPart("image", image))
    assert (hits[0]["key"], hits[0]["caption"]) == ("scene2", captions[2])
    assert hits[0]["modalities"] == ["caption"] and hits[0]["metadata"] == {"split": "a"}


def _manifest(root: Path, rows: list[dict[str, str]]) -> Path:
    path = root / "records.csv"
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, ["key", "rgb", "depth", "caption", "shot"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_manifest_of_records_is_indexed_by_all_parts_at_once(
    ready_settings, search_model, scenes
):
    """Records of a photo and a depth map: one item each (the same depth map in two records is
    two items), a record whose file is missing and a row without any part fail with reasons,
    a second run adds nothing, and a sketch finds its record."""
    root, _ = scenes
    rows = [
        {"key": f"r{i}", "rgb": f"rgb/00000{i}.png", "depth": f"depth/00000{i}.png", "shot": i}
        for i in range(SCENES)
    ]
    rows.append({"key": "twin", "rgb": "rgb/000001.png", "depth": "depth/000000.png", "shot": 9})
    rows.append({"key": "gone", "rgb": "rgb/nope.png", "depth": "depth/000000.png"})
    rows.append({"key": "empty", "shot": 1})
    manifest = _manifest(root, rows)
    form = SourceForm(manifest=True)
    found = run_index(ready_settings, "rgbd", manifest, model=search_model, form=form)
    assert (found.done, found.failed) == (SCENES + 1, 2)
    reasons = dict(found.failures)
    assert "rgb" in reasons[f"{manifest}:{SCENES + 3}"]
    assert "file not found" in reasons[f"{manifest}:{SCENES + 3}"]
    assert "no modality" in reasons[f"{manifest}:{SCENES + 4}"]
    again = run_index(ready_settings, "rgbd", manifest, model=search_model, form=form)
    assert (again.done, again.skipped) == (0, SCENES + 1)
    sketch = (root / "sketch" / "000004.png").read_bytes()
    hits = _top(ready_settings, search_model, "rgbd", QueryPart("sketch", sketch))
    assert hits[0]["key"] == "r4" and hits[0]["modalities"] == ["depth", "rgb"]
    assert hits[0]["metadata"] == {"shot": 4}


def test_a_colour_photo_given_as_depth_fails_with_the_reason(ready_settings, search_model, scenes):
    """An 8-bit colour photo under --modality depth is no depth map: every one fails, saying why."""
    root, _ = scenes
    found = run_index(
        ready_settings, "bad", root / "rgb", model=search_model, form=SourceForm("depth")
    )
    assert (found.done, found.failed) == (0, SCENES)
    assert all("depth: depth map is a colour image" in why for _, why in found.failures)


def test_a_modality_the_model_does_not_take_is_refused_before_anything_is_written(
    ready_settings, search_model, scenes
):
    """The built-in model reads no colour palette: the source is refused naming the model and
    what it takes, and no job is written."""
    root, _ = scenes
    path = root / "palettes.csv"
    path.write_text('key,color_palette\np,"[[255, 0, 0]]"\n')
    with pytest.raises(ModalityError, match="builtin does not take color_palette; it takes:"):
        run_index(ready_settings, "pal", path, model=search_model, form=SourceForm(manifest=True))
    with pytest.raises(ModalityError, match="unknown modality 'smell'"):
        SourceForm("smell")
    with session_for(ready_settings) as session:
        assert session.query(IndexJob).count() == 0


@pytest.mark.integration
def test_index_with_workers_refuses_a_modality_the_model_does_not_take(
    ready_settings, scenes, redis_url, monkeypatch, capsys
):
    """``anyseek index --workers`` (a reachable broker) refuses as the in-process path does: one
    line naming the model and what it takes, and no job written, so nothing is queued."""
    from anyseek.cli import main

    root, _ = scenes
    path = root / "palettes.csv"
    path.write_text('key,color_palette\np,"[[255, 0, 0]]"\n')
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(ready_settings.data_dir))
    monkeypatch.setenv("ANYSEEK_MODEL__DEVICE", "cpu")
    monkeypatch.setenv("ANYSEEK_BROKER_URL", redis_url)
    assert main(["index", str(path), "-c", "pal", "--manifest", "--workers"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "the model builtin does not take color_palette; it takes: caption, " in err
    with session_for(ready_settings) as session:
        assert session.query(IndexJob).count() == 0


def test_a_filter_keeps_the_items_holding_a_modality(ready_settings, search_model, scenes):
    """Photos and sketches in one collection: ``modalities=sketch`` keeps the sketches only."""
    root, captions = scenes
    run_index(ready_settings, "mixed", root / "rgb", model=search_model)
    run_index(
        ready_settings, "mixed", root / "sketch", model=search_model, form=SourceForm("sketch")
    )
    part = QueryPart("caption", captions[1])
    every = _top(ready_settings, search_model, "mixed", part)
    assert {tuple(hit["modalities"]) for hit in every} == {("rgb",), ("sketch",)}
    only = FilterSpec(equals={"modalities": "sketch"})
    hits = _top(ready_settings, search_model, "mixed", part, filter_spec=only)
    assert len(hits) == SCENES and all(hit["modalities"] == ["sketch"] for hit in hits)
    store = open_store(ready_settings)
    try:  # relevance is calibrated on photos: the sketches carry none rather than a wrong one
        found = Searcher(search_model, store).search(SearchQuery("mixed", (part,), k=2 * SCENES))
    finally:
        store.close()
    relevance = {tuple(h.payload["modalities"]): h.relevance for h in found.hits}
    assert relevance[("sketch",)] is None and relevance[("rgb",)] is not None


def test_a_reindex_reads_every_part_again(ready_settings, search_model, scenes, tmp_path):
    """Records of a photo, a depth map and a caption move to another model: every part is read
    again (the new version's vectors are the new model's joint prediction from all three) and
    the records keep their keys and modalities."""
    from derived_model import derived_bundle

    from anyseek.db.migrate import open_database
    from anyseek.indexer.reindex import run_reindex, start_reindex
    from anyseek.model.service import item_request
    from anyseek.search.model_registry import ModelRegistry

    root, captions = scenes
    manifest = root / "records.jsonl"
    rows = [
        {"key": f"r{i}", "rgb": f"rgb/00000{i}.png", "depth": f"depth/00000{i}.png",
         "caption": captions[i]}
        for i in range(3)
    ]  # fmt: skip
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    form = SourceForm(manifest=True)
    assert run_index(ready_settings, "moving", manifest, model=search_model, form=form).done == 3
    other = str(derived_bundle(tmp_path / "models"))
    registry = ModelRegistry(ready_settings.model, default=search_model)
    database, store = open_database(ready_settings), open_store(ready_settings)
    try:
        with database.session() as session:
            job_id, _ = start_reindex(session, "moving", registry.get(other), other)
        moved = run_reindex(ready_settings, database, store, job_id, registry.get)
        assert (moved.status, moved.failed) == ("succeeded", 0)
        new = registry.get(other)
        stored = {
            s.payload["key"]: s for s in store.retrieve("moving@v2", [1, 2, 3], with_vectors=True)
        }
        assert sorted(stored) == ["r0", "r1", "r2"]
        assert stored["r1"].payload["modalities"] == ["caption", "depth", "rgb"]
        inputs = {
            "image": new.image_input((root / "rgb" / "000001.png").read_bytes()),
            "depth": new.query_modalities["depth"].transform(
                (root / "depth" / "000001.png").read_bytes()
            ),
            "caption": new.query_modalities["caption"].transform(captions[1]),
        }
        [expected] = new.embed_queries([item_request(new, inputs)])
        space = new.spaces[0].name
        assert abs(float(stored["r1"].vectors[space] @ expected[space].vector) - 1) < 1e-5
    finally:
        store.close()
        database.dispose()
