"""An official-format 4M model end to end through the service: settings point at a tiny random
4M-21-like FM and its tokenizers, ``run_index`` stores the collection's priors, the searcher
answers by image, caption, depth, palette, boxes and metadata with them, and explain says what the
model imagined. Random weights: this checks the wiring, not retrieval quality."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sqlalchemy import select

from anyseek.db import migrate
from anyseek.db.migrate import open_database
from anyseek.db.models import CollectionPriors, Item
from anyseek.db.session import database_for
from anyseek.indexer import run_index
from anyseek.model.families.official.search import OfficialSearchModel
from anyseek.model.families.official.synthetic import write_fm, write_tokenizer
from anyseek.scenes import generate_scene
from anyseek.search.query import QueryPart, SearchQuery
from anyseek.search.searcher import Searcher, open_searcher
from anyseek.settings import ModelSettings, load_settings

IMAGES = 8
PRIOR_IMAGES = 3
FIXTURE_TOKENIZERS = {
    "tokenizer_DINOv2-B14-global": "4M_tokenizers_DINOv2-B14-global_8k_16_224",
    "tokenizer_depth_divae": "4M_tokenizers_depth_8k_224-448",
}
IMAGEBIND_REPO = "EPFL-VILAB/4M_tokenizers_ImageBind-H14-global_8k_16_224"
DOMAINS_IN = ["rgb@224", "caption", "tok_depth@224", "color_palette", "det", "metadata"]
DOMAINS_OUT = ["tok_dinov2_global", "tok_imagebind_global", "caption"]
# A tiny random FM: with this seed its greedy dinov2 tokens tell the 8 scenes apart (with some
# seeds two scenes share all 16 tokens); the tiny random ImageBind tokenizer decodes every token
# row to the same vector, so that space ties everywhere and dinov2 decides.
FM_SEED = 2


def write_photos(folder: Path, seeds: range) -> list[Path]:
    """Generated scenes upscaled to 224 px, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = folder / f"photo{seed:02d}.png"
        rgb = Image.fromarray(generate_scene(seed, 64).rgb).resize((224, 224), Image.BICUBIC)
        rgb.save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def setup(tmp_path_factory, fourm_fixtures: Path) -> dict:
    """A 4M-21-like FM + tokenizers folder, migrated settings and a folder of photos."""
    root = tmp_path_factory.mktemp("official")
    tokenizers = root / "tokenizers"
    for fixture, repo in FIXTURE_TOKENIZERS.items():
        shutil.copytree(fourm_fixtures / fixture / "hub", tokenizers / repo)
    write_tokenizer("tok_imagebind_global", tokenizers)
    write_fm(root / "4M-21-tiny" / "model.safetensors", DOMAINS_IN, DOMAINS_OUT, seed=FM_SEED)
    with pytest.MonkeyPatch.context() as env:
        for key in [k for k in os.environ if k.startswith("ANYSEEK_")]:
            env.delenv(key)
        settings = load_settings(data_dir=root / "data")
    model_settings = ModelSettings(
        source=str(root / "4M-21-tiny"), tokenizers=str(tokenizers), device="cpu"
    )
    indexer = settings.indexer.model_copy(update={"chunk_size": 4, "prior_images": PRIOR_IMAGES})
    settings = settings.model_copy(update={"model": model_settings, "indexer": indexer})
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    photos = write_photos(root / "photos", range(IMAGES))
    return {"root": root, "settings": settings, "photos": photos, "tokenizers": tokenizers}


@pytest.fixture(scope="module")
def indexed(setup) -> dict:
    """The photos indexed into collection ``photos``; the searcher the CLI and API use."""
    settings = setup["settings"]
    searcher = open_searcher(settings)
    assert isinstance(searcher.model, OfficialSearchModel)
    report = run_index(
        settings, "photos", setup["root"] / "photos", model=searcher.model, store=searcher.store
    )
    assert (report.done, report.failed) == (IMAGES, 0)
    yield {**setup, "searcher": searcher, "model": searcher.model}
    searcher.close()


def stored_priors(settings) -> CollectionPriors:
    """The one collection_priors row of the test database."""
    database = open_database(settings)
    try:
        with database.session() as session:
            [row] = session.scalars(select(CollectionPriors)).all()
            session.expunge(row)
            return row
    finally:
        database.dispose()


def item_ids(settings) -> dict[str, int]:
    """Photo file name -> item id."""
    database = open_database(settings)
    try:
        with database.session() as session:
            return {Path(i.source_uri).name: i.id for i in session.scalars(select(Item))}
    finally:
        database.dispose()


def ask(searcher: Searcher, explain: bool = False, **parts) -> object:
    """One query of the given parts against ``photos``."""
    query = SearchQuery(
        collection="photos",
        parts=tuple(QueryPart(name, value) for name, value in parts.items()),
        k=IMAGES,
        explain=explain,
    )
    return searcher.search(query)


def test_priors_are_estimated_from_the_first_images_and_stored(indexed) -> None:
    model, settings = indexed["model"], indexed["settings"]
    row = stored_priors(settings)
    assert (row.model_name, row.model_version, row.images) == (
        model.name,
        model.version,
        PRIOR_IMAGES,
    )
    priors = model.priors_from_bytes(row.priors)
    assert sorted(priors) == ["dinov2", "imagebind"]
    first = sorted(indexed["photos"])[:PRIOR_IMAGES]  # the first chunk, in source order
    want = model.estimate_priors(torch.stack([model.image_input(p) for p in first]))
    for name, prior in priors.items():
        torch.testing.assert_close(prior, want[name])
        torch.testing.assert_close(prior.sum(-1), torch.ones(prior.shape[0]))
    assert model.bundle.priors == {}  # the shared model itself was never given them


def test_each_photo_is_its_own_nearest_neighbour(indexed) -> None:
    ids = item_ids(indexed["settings"])
    for path in indexed["photos"]:
        results = ask(indexed["searcher"], image=path)
        top = results.hits[0]
        assert top.id == ids[path.name], (path.name, [(h.id, h.score) for h in results.hits])
        assert top.score > results.hits[1].score


def test_reindexing_keeps_the_priors(indexed) -> None:
    settings, searcher = indexed["settings"], indexed["searcher"]
    before = stored_priors(settings)
    query = indexed["photos"][1]
    first = ask(searcher, image=query)
    again = run_index(
        settings, "photos", indexed["root"] / "photos", model=searcher.model, store=searcher.store
    )
    assert (again.done, again.skipped) == (0, IMAGES)
    more = write_photos(indexed["root"] / "more", range(100, 102))
    added = run_index(settings, "photos", more, model=searcher.model, store=searcher.store)
    assert added.done == 2
    after = stored_priors(settings)
    assert (after.priors, after.created_at, after.images) == (
        before.priors,
        before.created_at,
        before.images,
    )
    later = ask(searcher, image=query)
    assert [h.id for h in later.hits][:3] == [h.id for h in first.hits][:3]
    assert later.hits[0].score == pytest.approx(first.hits[0].score)


QUERIES = {
    "caption": "a red cube on a wooden table",
    "depth": np.linspace(0.5, 3.0, 64 * 64, dtype=np.float32).reshape(64, 64),
    "color_palette": [[255, 0, 0], "#00ff80"],
    "det": [{"class": "person", "box": [0.05, 0.2, 0.4, 1.0]}, ["dog", [0.5, 0.5, 0.9, 0.9]]],
    "metadata": {"brightness": 200, "colorfulness": 80, "n_coco_instances": 3},
}


@pytest.mark.parametrize("modality", sorted(QUERIES))
def test_every_query_kind_answers_the_same_twice_with_the_collection_priors(
    indexed, modality: str
) -> None:
    searcher, model = indexed["searcher"], indexed["model"]
    first = ask(searcher, explain=True, **{modality: QUERIES[modality]})
    second = ask(searcher, explain=True, **{modality: QUERIES[modality]})
    assert len(first.hits) == IMAGES
    assert [(h.id, h.score) for h in first.hits] == [(h.id, h.score) for h in second.hits]
    assert first.explanation.imagined == second.explanation.imagined
    assert isinstance(first.explanation.imagined, str)
    # the information the space weights follow is measured against the collection's priors
    x = model.query_modalities[modality].transform(QUERIES[modality])
    priors = model.priors_from_bytes(stored_priors(indexed["settings"]).priors)
    with_priors = model.embed_query({modality: x}, priors=priors)
    uniform = model.embed_query({modality: x})
    for name, space in first.explanation.spaces.items():
        assert space.information == pytest.approx(with_priors[name].information)
        assert with_priors[name].information != pytest.approx(uniform[name].information)


def test_explain_says_what_the_model_imagined(indexed) -> None:
    searcher, model = indexed["searcher"], indexed["model"]
    photo = indexed["photos"][2]
    results = ask(searcher, explain=True, image=photo)
    x = model.query_modalities["image"].transform(Image.open(photo))
    assert results.explanation.imagined == model.describe({"image": x})
    said = ask(searcher, explain=True, caption="two dogs on a beach")
    assert said.explanation.imagined == "two dogs on a beach"  # a caption is what was said
    assert ask(searcher, image=photo).explanation is None


def test_cli_search_with_the_official_model(indexed) -> None:
    """``anyseek search`` in a fresh process: one licence notice, the imagined caption."""
    settings = indexed["settings"]
    env = {
        "ANYSEEK_DATA_DIR": str(settings.data_dir),
        "ANYSEEK_MODEL__SOURCE": settings.model.source,
        "ANYSEEK_MODEL__TOKENIZERS": settings.model.tokenizers,
        "ANYSEEK_MODEL__DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
        "PATH": os.environ["PATH"],
    }
    args = ["search", "-c", "photos", "--image", str(indexed["photos"][0]), "--k", "2"]
    palette = ["--palette", "[[255, 0, 0]]", "--explain"]
    done = subprocess.run(
        [sys.executable, "-m", "anyseek.cli", *args, *palette],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("NON-COMMERCIAL") == 1, done.stderr
    assert "imagined:" in done.stdout and "input color_palette" in done.stdout


def test_missing_tokenizer_is_one_error_line_naming_the_repo(indexed, tmp_path: Path) -> None:
    settings = indexed["settings"]
    lacking = tmp_path / "tokenizers"
    shutil.copytree(indexed["tokenizers"], lacking)
    shutil.rmtree(lacking / IMAGEBIND_REPO.split("/")[1])
    env = {
        "ANYSEEK_DATA_DIR": str(settings.data_dir),
        "ANYSEEK_MODEL__SOURCE": settings.model.source,
        "ANYSEEK_MODEL__TOKENIZERS": str(lacking),
        "ANYSEEK_MODEL__DEVICE": "cpu",
        # a store of its own: this test process holds the writer of the fixture's, and a command
        # asked to write there is refused for that first (tests/cli/test_cli_writes_with_server)
        "ANYSEEK_STORE__PATH": str(tmp_path / "faiss"),
        "PATH": os.environ["PATH"],
    }
    for args in (
        ["index", str(indexed["root"] / "photos"), "-c", "other"],
        ["search", "-c", "photos", "--caption", "a cat"],
        ["demo", "--no-serve", "--n", "10", "--queries", "1"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "anyseek.cli", *args],
            capture_output=True, text=True, env=env, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1
        assert "Traceback" not in done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and IMAGEBIND_REPO in errors[0], done.stderr


def test_queries_with_other_priors_in_one_batch_do_not_see_each_other(indexed) -> None:
    from anyseek.model.families.interface import QueryRequest

    model = indexed["model"]
    x = {"caption": model.query_modalities["caption"].transform("a red cube")}
    priors = model.priors_from_bytes(stored_priors(indexed["settings"]).priors)
    mixed = model.embed_queries([QueryRequest(x, priors=priors), QueryRequest(x)])
    alone = [model.embed_query(x, priors=priors), model.embed_query(x)]
    for got, want in zip(mixed, alone, strict=True):
        for name in want:
            assert got[name].information == pytest.approx(want[name].information)
            np.testing.assert_array_equal(got[name].vector, want[name].vector)
    assert mixed[0]["dinov2"].information != pytest.approx(mixed[1]["dinov2"].information)
    assert model.bundle.priors == {}


def test_structured_queries_over_http(indexed) -> None:
    """Palette, boxes and metadata reach the official model through the JSON search route."""
    from fastapi.testclient import TestClient

    from anyseek.api.app import create_app

    app = create_app(indexed["settings"], searcher=indexed["searcher"])
    with TestClient(app, raise_server_exceptions=False) as client:
        for modality in ("color_palette", "det", "metadata"):
            body = {"parts": [{"modality": modality, "value": QUERIES[modality]}], "k": IMAGES}
            answer = client.post("/v1/collections/photos/search", json=body)
            assert answer.status_code == 200, answer.text
            direct = ask(indexed["searcher"], **{modality: QUERIES[modality]})
            assert [h["id"] for h in answer.json()["hits"]] == [h.id for h in direct.hits]
        explained = client.post(
            "/v1/collections/photos/search",
            json={"parts": [{"modality": "det", "value": QUERIES["det"]}], "explain": True},
        )
        assert isinstance(explained.json()["explanation"]["imagined"], str)
        wrong = client.post(
            "/v1/collections/photos/search",
            json={"parts": [{"modality": "det", "text": "a dog"}]},
        )
        assert wrong.status_code == 422
        assert wrong.json()["field"] == "body.parts[0].value"
