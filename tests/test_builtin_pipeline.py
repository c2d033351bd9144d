"""CI-sized end-to-end run of ``anyseek train default``: from nothing to an evaluated bundle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from model.bundle import load_bundle
from model.eval.retrieval import QUERIES
from model.train.pipeline import STAGES, Run, run_pipeline
from model.train.recipe import load_recipe


@pytest.mark.slow
def test_tiny_training_run_produces_an_evaluated_bundle_and_resumes(tmp_path: Path) -> None:
    config = load_recipe("ci")
    run = Run(config, tmp_path / "run")
    records = run_pipeline(run)
    assert [name for name, _ in STAGES] == list(records)
    # the FM learned: its masked-token loss is far below guessing among the live codes
    assert records["fm"]["metrics"]["final_loss_mean_last50"] < 0.6 * math.log(
        config.tokenizer.live_codes
    )
    bundle = load_bundle(run.bundle_dir)  # the exported files load with the official loaders
    assert set(bundle.spaces) == {"tok_clip_global", "tok_dino_global"}
    report = json.loads((run.bundle_dir / "eval.json").read_text())
    assert set(QUERIES) | {"random"} <= set(report)
    for query in QUERIES:
        assert set(report[query]) >= {"clip", "dino", "fused"}
    assert "attr_P@10" in report["caption"]["fused"]
    assert report["sketch"]["edge_baseline"]["R@10"] > report["random"]["none"]["R@10"]
    assert "| sketch | fused |" in (run.bundle_dir / "MODEL_CARD.md").read_text()
    # a second call finds every stage done and redoes nothing
    again = run_pipeline(run)
    assert all(again[name]["finished"] == records[name]["finished"] for name in records)
