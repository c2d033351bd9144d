"""A re-index keeps every artefact a first index makes (issue 39): a collection indexed with the
built-in model (no previews) and re-indexed with MultiMAE by ``anyseek reindex`` has, for every
item, the thumbnail and the depth and segmentation previews that indexing with MultiMAE from the
start writes, and a real ``anyseek serve`` serves them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image
from server_process import HTTP, cli, process_env, served

from anyseek.model.families.multimae import MultiMAE, MultiMAEConfig, save_multimae
from anyseek.scenes import generate_scene

pytestmark = pytest.mark.slow
SEEDS = (3, 4, 5)
KINDS = ("depth", "semseg")


def _artefacts(data_dir: Path, collection: str, paths: dict[int, str]) -> dict[str, bytes]:
    """Every file under the collection's thumbnail folder, named by its item's path (not id)."""
    folder = data_dir / "thumbnails" / collection
    found = {}
    for file in folder.iterdir():
        item_id, rest = file.name.split(".", 1)
        found[f"{paths[int(item_id)]}.{rest}"] = file.read_bytes()
    return found


@pytest.mark.timeout(600)
def test_reindex_with_multimae_writes_the_previews_a_first_index_writes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = MultiMAEConfig.named("test_multimae_tiny")
    checkpoint = save_multimae(MultiMAE(config), tmp_path / "model.safetensors")
    images = tmp_path / "images"
    images.mkdir()
    for seed in SEEDS:
        Image.fromarray(generate_scene(seed, 64).rgb).save(images / f"{seed}.png")
    data_dir = tmp_path / "data"
    builtin = process_env(
        data_dir, ANYSEEK_INDEXER__THUMBNAIL_SIZE="48", ANYSEEK_INDEXER__FLUSH_INTERVAL_S="0"
    )
    multimae = builtin | {"ANYSEEK_MODEL__SOURCE": str(checkpoint)}
    cli(builtin, "db", "upgrade")
    cli(builtin, "index", str(images), "--collection", "later")
    cli(multimae, "index", str(images), "--collection", "first")
    cli(builtin, "reindex", "later", "--model", str(checkpoint))

    with served(multimae, tmp_path / "serve.log") as base:
        paths = {}
        for collection in ("first", "later"):
            listed = HTTP.get(f"{base}/v1/collections/{collection}/items").json()["items"]
            paths[collection] = {item["id"]: item["payload"]["path"] for item in listed}
        for item_id in paths["later"]:
            route = f"{base}/v1/collections/later/items/{item_id}/thumbnail"
            for kind in KINDS:
                response = HTTP.get(route, params={"kind": kind})
                assert response.status_code == 200, (kind, response.text)
                assert Image.open(io.BytesIO(response.content)).size == (48, 48)

    first = _artefacts(data_dir, "first", paths["first"])
    later = _artefacts(data_dir, "later", paths["later"])
    assert len(first) == len(SEEDS) * (1 + len(KINDS)), sorted(first)
    assert sorted(later) == sorted(first)
    for name in first:
        if not name.endswith(".jpg"):  # the same model's previews of the same images
            assert later[name] == first[name], name
