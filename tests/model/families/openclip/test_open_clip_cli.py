"""A folder of photos indexed with an open_clip model by one command and searched by caption,
image and sketch through the real entry point; the scores are open_clip's own cosines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_clip import need_open_clip

open_clip = need_open_clip()

from anyseek.cli import main  # noqa: E402

pytestmark = pytest.mark.clip
BF16 = 2e-2  # gallery batches may run in bfloat16 (the CPU's native bf16)


def _photos(folder: Path) -> dict[str, Image.Image]:
    folder.mkdir()
    rng = np.random.default_rng(1)
    photos = {
        "noise.jpg": Image.fromarray(rng.integers(0, 256, (48, 64, 3)).astype(np.uint8)),
        "red.png": Image.new("RGB", (40, 30), (220, 30, 30)),
        "sky.png": Image.new("RGB", (30, 50), (90, 160, 250)),
    }
    for name, image in photos.items():
        image.save(folder / name)
    return {name: Image.open(folder / name).convert("RGB") for name in photos}  # as saved


def test_index_a_folder_and_search_it_by_caption_image_and_sketch(
    tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for key in list(os.environ):
        if key.startswith("ANYSEEK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANYSEEK_MODEL__SOURCE", str(tiny_folder))
    monkeypatch.setenv("ANYSEEK_MODEL__DEVICE", "cpu")
    photos = _photos(tmp_path / "photos")
    assert main(["db", "upgrade"]) == 0
    assert main(["index", str(tmp_path / "photos"), "-c", "photos"]) == 0
    capsys.readouterr()

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{tiny_folder}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{tiny_folder}")
    with torch.no_grad():
        gallery = model.eval().encode_image(torch.stack([preprocess(p) for p in photos.values()]))
    gallery = torch.nn.functional.normalize(gallery, dim=-1).numpy()
    want_names = list(photos)

    def search(*query: str) -> dict[str, float]:
        code = main(["search", "-c", "photos", *query, "--k", "10", "--local", "--json"])
        out = capsys.readouterr()
        assert code == 0, out.err
        return {Path(h["payload"]["path"]).name: h["score"] for h in json.loads(out.out)["hits"]}

    with torch.no_grad():
        text = model.encode_text(tokenizer(["a red wall"]))
    text = torch.nn.functional.normalize(text, dim=-1).numpy()[0]
    found = search("--caption", "a red wall")
    assert set(found) == set(photos)
    for name, cosine in zip(want_names, gallery @ text, strict=True):
        assert found[name] == pytest.approx(float(cosine), abs=BF16), (name, found)

    found = search("--image", str(tmp_path / "photos" / "red.png"))
    for name, cosine in zip(want_names, gallery @ gallery[1], strict=True):
        assert found[name] == pytest.approx(float(cosine), abs=BF16), (name, found)

    drawing = Image.new("RGB", (40, 40), "white")
    drawing.paste((0, 0, 0), (5, 18, 35, 22))
    drawing.save(tmp_path / "sketch.png")
    with torch.no_grad():
        sketch = model.encode_image(preprocess(drawing)[None])
    sketch = torch.nn.functional.normalize(sketch, dim=-1).numpy()[0]
    found = search("--sketch", str(tmp_path / "sketch.png"))
    for name, cosine in zip(want_names, gallery @ sketch, strict=True):
        assert found[name] == pytest.approx(float(cosine), abs=BF16), (name, found)

    code = main(["search", "-c", "photos", "--depth", str(tmp_path / "sketch.png"), "--local"])
    err = capsys.readouterr().err
    assert code != 0 and "caption, sketch, image" in err and "Traceback" not in err


def test_the_api_describes_the_model(tiny_folder: Path, tmp_path: Path, monkeypatch) -> None:
    """``GET /v1/model``: identity, the clip space, the three query kinds, the relevance note."""
    from fastapi.testclient import TestClient

    from anyseek.api.app import create_app
    from anyseek.db import migrate
    from anyseek.db.session import database_for
    from anyseek.search.searcher import Searcher
    from anyseek.search.stores import open_store
    from anyseek.settings import load_settings

    for key in list(os.environ):
        if key.startswith("ANYSEEK_"):
            monkeypatch.delenv(key)
    settings = load_settings(data_dir=tmp_path, model={"source": str(tiny_folder)})
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    from anyseek.model.families.registry import load_search_model

    model = load_search_model(settings.model)
    store = open_store(settings)
    searcher = Searcher(model, store, settings.search, settings.api.max_query_pixels)
    with TestClient(create_app(settings, searcher=searcher, database=database)) as client:
        info = client.get("/v1/model").json()
    store.close()
    database.dispose()
    assert (info["name"], info["version"]) == ("tiny-clip", model.version)
    assert info["spaces"] == [{"name": "clip", "dim": 32}]
    assert [q["name"] for q in info["query_modalities"]] == ["caption", "sketch", "image"]
    assert "no relevance calibration" in info["relevance_note"] and info["palette"] is None
