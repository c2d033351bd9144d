"""bench/scale.py at a few hundred items: the gallery, the ground truth, recall, the outbox path and
the results file's schema (the HTTP part and the large sizes run only in the bench)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anyseek.db.session import database_for
from anyseek.search.snapshots import CollectionWatermark
from anyseek.search.stores import open_store
from bench.scale import (
    ConfigResult,
    KindResult,
    batches,
    build,
    make_gallery,
    outbox_rate,
    recall_at_10,
    save,
    settings_for,
)

SIZE = 300


@pytest.fixture(scope="module")
def gallery(search_model):
    return make_gallery(search_model, n_real=40, n_queries=6, noise=0.05)


def test_batches_are_the_same_vectors_however_asked(gallery) -> None:
    whole = {s: np.concatenate([b[1][s] for b in batches(gallery, 1, SIZE)]) for s in gallery.real}
    tail = next(batches(gallery, 201, 100))
    assert tail[0] == list(range(201, 301))
    for space, vectors in whole.items():
        np.testing.assert_array_equal(vectors[200:], tail[1][space])
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        # real vectors first, perturbed copies after: copies are close to, not equal to, them
        cos = np.sum(vectors[40:80] * vectors[:40], axis=1)
        assert cos.min() > 0.7 and cos.max() < 1.0


@pytest.mark.parametrize("config", ["exact", "ivf_flat"])
def test_build_recall_and_outbox(tmp_path: Path, search_model, gallery, config: str) -> None:
    _, truth = build(tmp_path, SIZE, config, gallery, search_model)
    settings = settings_for(tmp_path, config)
    database = database_for(settings)
    # the server is measured on a database holding the gallery's items, as the indexer leaves it
    assert CollectionWatermark(database)("bench") == SIZE
    database.dispose()
    recall = recall_at_10(settings, truth)
    if config == "exact":
        assert recall == 1.0  # the store's exact search is the brute-force ground truth
    else:
        assert 0.5 <= recall <= 1.0
    rate, stages = outbox_rate(settings, search_model, SIZE, 64, gallery)
    assert rate > 0 and 0 < stages["store upsert"] < stages["total"]
    assert {"thumbnails (files)", "near-duplicate check", "database commit"} <= set(stages)
    with open_store(settings) as store:  # the outbox items reached the store with payloads
        assert store.count("bench") == SIZE + 64
        item = store.retrieve("bench", [SIZE + 64])[0]
        assert item.payload["path"].endswith(f"IMG_{SIZE + 64:07d}.jpg")


def test_results_are_keyed_by_size_in_the_issue_schema(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    kind = KindResult(p50_ms=20.0, p95_ms=30.0, p99_ms=40.0, qps_16_clients=50.0)
    for config, recall in (("exact", 1.0), ("ivf_flat", 0.97)):
        result = ConfigResult(
            size=100_000,
            config=config,
            index=config,
            build_s=1.0,
            ram_gb=1.0,
            disk_gb=0.1,
            index_file_gb=0.1,
            recall_at_10=recall,
            outbox_vectors_per_s=1000.0,
            outbox_items=64,
            queries={"caption": kind},
        )
        save(result, out)
    entry = json.loads(out.read_text())["100000"]
    assert entry["service_config"] == "ivf_flat"  # the default store is approximate past 50k
    assert entry["recall_at_10"] == 0.97
    assert set(entry["queries"]["caption"]) >= {"p50_ms", "p95_ms", "p99_ms", "qps_16_clients"}
    for key, kind_of in (("outbox_vectors_per_s", float), ("ram_gb", float), ("index", str)):
        assert isinstance(entry[key], kind_of)
    assert [c["config"] for c in entry["configs"]] == ["exact", "ivf_flat"]
