"""CI-sized end-to-end run of ``anyseek train default``: from nothing to a bundle that retrieves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.train.pipeline import SCALES, STAGES, Run, run_pipeline


@pytest.mark.slow
def test_tiny_training_run_beats_random_and_is_resumable(tmp_path: Path) -> None:
    run = Run(SCALES["ci"], tmp_path / "run")
    records = run_pipeline(run)
    assert [name for name, _ in STAGES] == list(records)
    report = json.loads((run.bundle_dir / "eval.json").read_text())
    chance = report["random"]["none"]
    # the dense queries carry the scene's layout: well above a random ranking
    for query in ("sketch", "depth", "semseg"):
        assert report[query]["dino"]["R@10"] >= 2.5 * chance["R@10"], (query, report[query])
    assert (run.bundle_dir / "MODEL_CARD.md").read_text().count("| sketch |") >= 3
    # a second call finds every stage done and redoes nothing
    again = run_pipeline(run)
    assert all(again[name]["finished"] == records[name]["finished"] for name in records)
