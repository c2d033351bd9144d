"""MultiMAE's reconstructions in the service, end to end with a tiny random-weight checkpoint:
the indexer writes depth and segmentation PNGs beside each thumbnail, the API serves them, and
explain carries those of a query image (searcher and HTTP); the built-in bundle produces none."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from api_helpers import png_bytes, settings_from_args
from fastapi.testclient import TestClient
from PIL import Image

from anyseek.api.app import create_app
from anyseek.db import migrate
from anyseek.db.session import database_for
from anyseek.indexer import run_index
from anyseek.indexer.thumbnails import reconstruction_path, thumbnail_path
from anyseek.model.families.multimae import MultiMAE, MultiMAEConfig, save_multimae
from anyseek.scenes import generate_scene
from anyseek.search.query import QueryPart, SearchQuery
from anyseek.search.reconstruct import EXPLAIN_SIZE
from anyseek.search.searcher import Searcher, open_searcher
from anyseek.settings import Settings

SEEDS = (3, 4, 5)
THUMB = 48  # thumbnail size in these tests (px): the reconstructions are this size too
KINDS = ("depth", "semseg")


@dataclass
class Indexed:
    """A collection indexed with one model, searched through a searcher and the API."""

    settings: Settings
    searcher: Searcher
    client: TestClient
    sources: dict[int, str]  # item id -> image file
    query: bytes  # PNG of a scene, to search by


def _settings(data_dir: Path, source: str) -> Settings:
    """Settings from arguments only (the developer's ANYSEEK_* variables set aside)."""
    return settings_from_args(
        data_dir=data_dir,
        model={"source": source},
        store={"path": str(data_dir / "faiss")},
        api={"batch_wait_ms": 1.0},
        indexer={"allowed_roots": [str(data_dir)], "flush_interval_s": 0, "thumbnail_size": THUMB},
    )


def _index(root: Path, source: str) -> Iterator[Indexed]:
    """Generated scenes written as PNGs, indexed in-process, served by a searcher and the app."""
    settings = _settings(root / "data", source)
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    images = root / "data" / "images"
    images.mkdir(parents=True)
    for seed in SEEDS:
        (images / f"{seed}.png").write_bytes(png_bytes(generate_scene(seed, 64).rgb))
    report = run_index(settings, "scenes", images)
    assert (report.status, report.done, report.failed) == ("succeeded", len(SEEDS), 0), report
    searcher = open_searcher(settings)
    with TestClient(create_app(settings, searcher=searcher)) as client:
        listed = client.get("/v1/collections/scenes/items").json()["items"]
        query = png_bytes(generate_scene(SEEDS[0], 64).rgb)
        sources = {i["id"]: i["source_uri"] for i in listed}
        yield Indexed(settings, searcher, client, sources, query)
    searcher.close()


@pytest.fixture(scope="module")
def multimae(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("mmae-service")
    checkpoint = save_multimae(
        MultiMAE(MultiMAEConfig.named("test_multimae_tiny")), root / "model.safetensors"
    )
    yield from _index(root, str(checkpoint))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    yield from _index(tmp_path_factory.mktemp("bundle-service"), "builtin")


def _image(data: bytes) -> Image.Image:
    """Decoded PNG bytes (fails on anything else)."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


def _search(indexed: Indexed, explain: bool) -> dict:
    body = {
        "parts": [{"modality": "image", "data": base64.b64encode(indexed.query).decode()}],
        "k": 3,
        "explain": explain,
    }
    response = indexed.client.post("/v1/collections/scenes/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_indexing_writes_depth_and_segmentation_beside_the_thumbnail(multimae: Indexed) -> None:
    assert len(multimae.sources) == len(SEEDS)
    for item_id in multimae.sources:
        assert thumbnail_path(multimae.settings, "scenes", item_id).is_file()
        depth, semseg = (
            _image(reconstruction_path(multimae.settings, "scenes", item_id, k).read_bytes())
            for k in KINDS
        )
        assert depth.size == semseg.size == (THUMB, THUMB)
        assert depth.mode == "L" and semseg.mode == "RGB"
        grey = np.asarray(depth)
        assert int(grey.max()) - int(grey.min()) > 100  # stretched: near = bright, far = dark


def test_they_are_the_models_prediction_for_the_item(multimae: Indexed) -> None:
    model = multimae.searcher.model
    for item_id, source in multimae.sources.items():
        pixels = model.image_input(Image.open(source).convert("RGB"))
        [expected] = model.reconstruction_pngs(pixels[None], THUMB)
        for kind in KINDS:
            path = reconstruction_path(multimae.settings, "scenes", item_id, kind)
            assert path.read_bytes() == expected[kind]


def test_the_api_serves_them_by_kind(multimae: Indexed) -> None:
    item = next(iter(multimae.sources))
    base = f"/v1/collections/scenes/items/{item}/thumbnail"
    assert multimae.client.get(base).headers["content-type"] == "image/jpeg"
    for kind in KINDS:
        response = multimae.client.get(base, params={"kind": kind})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        on_disk = reconstruction_path(multimae.settings, "scenes", item, kind).read_bytes()
        assert response.content == on_disk
    assert multimae.client.get(base, params={"kind": "normal"}).status_code == 422
    assert (
        multimae.client.get("/v1/collections/scenes/items/999999/thumbnail?kind=depth").status_code
        == 404
    )
    parameters = multimae.client.get("/openapi.json").json()["paths"][
        "/v1/collections/{name}/items/{item_id}/thumbnail"
    ]["get"]["parameters"]
    assert any(p["name"] == "kind" for p in parameters)


def test_searcher_explain_carries_what_the_model_sees_in_the_query_image(
    multimae: Indexed,
) -> None:
    query = SearchQuery("scenes", (QueryPart("image", multimae.query),), k=3, explain=True)
    results = multimae.searcher.search(query)
    assert results.hits[0].id in multimae.sources
    found = results.explanation.reconstructions
    assert set(found) == set(KINDS)
    for kind in KINDS:
        assert _image(base64.b64decode(found[kind])).size == (EXPLAIN_SIZE, EXPLAIN_SIZE)
    assert "reconstruct" in results.explanation.timings_ms
    plain = multimae.searcher.search(SearchQuery("scenes", (QueryPart("image", multimae.query),)))
    assert plain.explanation is None


def test_api_explain_carries_them_only_when_asked(multimae: Indexed) -> None:
    found = _search(multimae, explain=True)["explanation"]["reconstructions"]
    assert set(found) == set(KINDS)
    depth = _image(base64.b64decode(found["depth"]))
    assert depth.size == (EXPLAIN_SIZE, EXPLAIN_SIZE)
    assert _search(multimae, explain=False)["explanation"] is None
    schema = multimae.client.get("/openapi.json").json()["components"]["schemas"]
    assert "reconstructions" in schema["ExplanationOut"]["properties"]


def test_a_bundle_model_reconstructs_nothing(bundle: Indexed) -> None:
    item = next(iter(bundle.sources))
    assert thumbnail_path(bundle.settings, "scenes", item).is_file()
    assert not any(reconstruction_path(bundle.settings, "scenes", item, k).exists() for k in KINDS)
    base = f"/v1/collections/scenes/items/{item}/thumbnail"
    assert bundle.client.get(base).status_code == 200
    for kind in KINDS:
        response = bundle.client.get(base, params={"kind": kind})
        assert response.status_code == 404
        assert "reconstruction" in response.json()["detail"]
    explanation = _search(bundle, explain=True)["explanation"]
    assert explanation is not None and explanation["reconstructions"] is None


def test_deleting_an_item_removes_its_reconstructions(multimae: Indexed) -> None:
    item = list(multimae.sources)[-1]
    paths = [reconstruction_path(multimae.settings, "scenes", item, k) for k in KINDS]
    assert all(p.is_file() for p in paths)
    assert multimae.client.delete(f"/v1/collections/scenes/items/{item}").status_code == 204
    assert not any(p.exists() for p in paths)


def test_the_indexer_can_be_told_to_skip_them(multimae: Indexed, tmp_path: Path) -> None:
    settings = multimae.settings
    quiet = settings.model_copy(
        update={"indexer": settings.indexer.model_copy(update={"reconstructions": False})}
    )
    images = settings.data_dir / "more"
    images.mkdir()
    (images / "9.png").write_bytes(png_bytes(generate_scene(9, 64).rgb))
    searcher = multimae.searcher
    report = run_index(quiet, "plain", images, model=searcher.model, store=searcher.store)
    assert (report.status, report.done) == ("succeeded", 1)
    folder = settings.data_dir / "thumbnails" / "plain"
    assert [p.suffix for p in folder.iterdir()] == [".jpg"]
