"""lab/training_report.py reads a finished run's curve, and a stopped run's from its last
checkpoint (saying it stopped), so a run given up early is reported from what it measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from lab.training_report import read_history

ROOT = Path(__file__).resolve().parents[2]
RECORD = {"minutes": 5.0, "step": 419, "pixel_loss": 2.83, "text_loss": 4.45, "sketch R@1": 0.386}


def _run(folder: Path) -> Path:
    recipe = {"name": "v10-draft", "train": {"batch": 256, "steps": 6500}, "val": {"seed": 777001}}
    (folder / "recipe.json").write_text(json.dumps(recipe))
    (folder / "calls.json").write_text(json.dumps([{"ended": "2026-11-26", "seconds": 600.0}]))
    return folder


def test_a_stopped_run_is_read_from_its_checkpoint(tmp_path: Path) -> None:
    torch.save({"history": [RECORD], "step": 419}, _run(tmp_path) / "checkpoint.pt")
    assert read_history(tmp_path) == ([RECORD], True)
    (tmp_path / "history.json").write_text(json.dumps([RECORD, {**RECORD, "step": 6500}]))
    history, stopped = read_history(tmp_path)
    assert (len(history), stopped) == (2, False)


def _report(run: Path, *extra: str) -> str:
    """The report the script writes of ``run``, given ``extra`` arguments."""
    out = run / "report.md"
    script = ROOT / "lab" / "training_report.py"
    subprocess.run([sys.executable, str(script), "--run", str(run), "--out", str(out), *extra],
                   check=True, capture_output=True)  # fmt: skip
    return out.read_text()


def test_the_report_says_a_run_stopped_and_at_which_step(tmp_path: Path) -> None:
    torch.save({"history": [RECORD], "step": 419}, _run(tmp_path) / "checkpoint.pt")
    text = _report(tmp_path)
    assert "Stopped before its end" in text and "step 419 of the recipe's 6500" in text
    assert "| 5.0 | 419 | 2.83 | 4.45 | 0.386 |" in text


def test_the_report_names_the_recipe_file_a_run_was_given(tmp_path: Path) -> None:
    (_run(tmp_path) / "history.json").write_text(json.dumps([RECORD]))
    assert "--recipe v10-draft --out" in _report(tmp_path)
    assert "--recipe lab/recipes/x.json --out" in _report(
        tmp_path, "--recipe", "lab/recipes/x.json"
    )
