"""The precision that made a collection's vectors (ANYSEEK_MODEL__PRECISION, forced each way
whatever this CPU would choose) is recorded with them and shown by `anyseek collections list`
and `collections versions`; a collection that jobs in both precisions added to says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from anyseek.cli import main
from anyseek.db.models import Collection, Item
from anyseek.db.session import database_for
from anyseek.indexer import run_index
from anyseek.scenes import generate_scene
from anyseek.search.stores import open_store
from anyseek.settings import Settings


def _with_precision(settings: Settings, precision: str) -> Settings:
    """The same settings with ANYSEEK_MODEL__PRECISION set."""
    model = settings.model.model_copy(update={"precision": precision})
    return settings.model_copy(update={"model": model})


def _photos(folder: Path, seeds: range) -> Path:
    """Generated scenes saved as PNG files in ``folder``."""
    folder.mkdir()
    for seed in seeds:
        Image.fromarray(generate_scene(seed, 64).rgb).save(folder / f"{seed}.png")
    return folder


def _vectors(settings: Settings, collection: str) -> np.ndarray:
    """The stored vectors [N, D] of a collection's items (one space), by file name."""
    with database_for(settings).session() as session:
        rows = session.execute(
            select(Item.id, Item.source_uri)
            .join(Collection)
            .where(Collection.name == collection)
            .order_by(Item.source_uri)
        ).all()
    with open_store(settings) as store:
        found = store.retrieve(collection, [row.id for row in rows], with_payload=False)
    return np.stack([next(iter(item.vectors.values())) for item in found])


def _listed(capsys: pytest.CaptureFixture) -> dict[str, dict]:
    """`anyseek collections list --json`, by collection name."""
    capsys.readouterr()
    assert main(["collections", "list", "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def test_each_precision_is_honoured_and_recorded_with_the_vectors(
    ready_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(ready_settings.data_dir))
    photos = _photos(tmp_path / "photos", range(5_300, 5_303))
    exact, half = (_with_precision(ready_settings, p) for p in ("float32", "bfloat16"))
    run_index(exact, "exact", photos)  # each loads its model as the settings say
    run_index(half, "half", photos)

    listed = _listed(capsys)
    assert (listed["exact"]["precision"], listed["half"]["precision"]) == ("float32", "bfloat16")
    a, b = (_vectors(ready_settings, c) for c in ("exact", "half"))  # honoured: they differ
    assert not np.array_equal(a, b) and float((a * b).sum(1).min()) > 0.99

    assert main(["collections", "list"]) == 0
    table = capsys.readouterr().out
    assert "precision" in table.splitlines()[0] and "bfloat16" in table

    run_index(half, "exact", _photos(tmp_path / "more", range(5_310, 5_312)))
    assert _listed(capsys)["exact"]["precision"] == "mixed"  # partly float32, partly bfloat16
    assert main(["collections", "versions", "exact"]) == 0
    assert "mixed" in capsys.readouterr().out
