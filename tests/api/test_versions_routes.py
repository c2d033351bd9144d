"""Model versions over HTTP and in the CLI: a collection whose model changed at its source is
refused with 409 naming both models and ``reindex``; re-indexing moves it; a rollback to vectors
whose model is gone is refused too (``tests/indexer/test_reindex.py`` rolls back for real)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from derived_model import derived_bundle, perturb_weights
from fastapi.testclient import TestClient
from PIL import Image

from anyseek.cli import main
from anyseek.db import migrate
from anyseek.db.session import database_for
from anyseek.indexer import run_index
from anyseek.model.service import load_search_model
from anyseek.scenes import generate_scene
from anyseek.search.searcher import Searcher
from anyseek.search.stores import open_store
from anyseek.settings import Settings


def scene_png(seed: int) -> bytes:
    """A generated 64 px scene as PNG bytes."""
    out = io.BytesIO()
    Image.fromarray(generate_scene(seed, 64).rgb).save(out, format="PNG")
    return out.getvalue()


def write_scenes(folder: Path, count: int) -> Path:
    """``count`` scenes as PNG files in ``folder``."""
    folder.mkdir(parents=True)
    for seed in range(count):
        (folder / f"scene{seed}.png").write_bytes(scene_png(seed))
    return folder


CAPTION = {"parts": [{"modality": "caption", "text": "a red cube"}], "k": 3}


@pytest.fixture
def changed_source(settings: Settings, tmp_path: Path) -> tuple[Settings, str]:
    """Settings whose model source held other weights when collection ``scenes`` was indexed."""
    source = str(derived_bundle(tmp_path / "models", seed=3))
    settings = settings.model_copy(
        update={
            "model": settings.model.model_copy(update={"source": source, "device": "cpu"}),
            "indexer": settings.indexer.model_copy(update={"flush_interval_s": 0}),
        }
    )
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    run_index(settings, "scenes", write_scenes(tmp_path / "images", 3))
    perturb_weights(Path(source), seed=4)
    return settings, source


def test_a_changed_model_is_409_over_http_until_reindexed_and_again_after_rollback(
    changed_source: tuple[Settings, str],
) -> None:
    from anyseek.api.app import create_app

    settings, source = changed_source
    model = load_search_model(settings.model)
    database = database_for(settings)
    store = open_store(settings)
    app = create_app(settings, searcher=Searcher(model, store, settings.search), database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        refused = client.post("/v1/collections/scenes/search", json=CAPTION)
        upload = client.post(
            "/v1/collections/scenes/items", files={"files": ("x.png", scene_png(77), "image/png")}
        )
        assert (refused.status_code, upload.status_code) == (409, 409)
        detail = refused.json()["detail"]
        assert "derived-model@" in detail and model.version in detail
        assert "anyseek reindex scenes --model" in detail and "/reindex" in detail
        assert client.get("/v1/jobs").json()["jobs"][0]["status"] == "succeeded"  # none new

        started = client.post("/v1/collections/scenes/reindex", json={"model": source})
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        app.state.anyseek.jobs.wait(job_id, timeout=300)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert (job["status"], job["done"], job["total"]) == ("succeeded", 3, 3)
        listed = client.get("/v1/collections/scenes/versions").json()["versions"]
        assert [(v["number"], v["current"]) for v in listed] == [(1, False), (2, True)]
        found = client.post("/v1/collections/scenes/search", json=CAPTION)
        assert found.status_code == 200 and found.json()["model"]["version"] == model.version
        busy = client.post("/v1/collections/missing/reindex", json={"model": source})
        assert busy.status_code == 404

        # version 1's model is gone from its source: going back would serve mixed vectors
        back = client.post("/v1/collections/scenes/rollback")
        assert back.status_code == 409 and back.json()["detail"] == detail  # the one message
        assert client.post("/v1/collections/scenes/search", json=CAPTION).status_code == 200
    store.close()
    database.dispose()


def test_a_changed_model_is_one_line_in_the_cli(
    changed_source: tuple[Settings, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    settings, source = changed_source
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ANYSEEK_MODEL__SOURCE", source)
    monkeypatch.setenv("ANYSEEK_MODEL__DEVICE", "cpu")

    code = main(["search", "-c", "scenes", "--caption", "a red cube"])

    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith("error: collection 'scenes' was indexed with derived-model@")
    assert "anyseek reindex scenes --model SOURCE" in err
    assert main(["collections", "versions", "scenes"]) == 0
    out = capsys.readouterr().out
    assert "derived-model@" in out and source in out
