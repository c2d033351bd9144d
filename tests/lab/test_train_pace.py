"""lab/train_pace.py: a real render, real steps both ways and a real validation, projected to
the shipped recipe."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from anyseek.workbench.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = [sys.executable, str(ROOT / "lab" / "train_pace.py")]


@pytest.mark.slow
def test_the_report_times_both_precisions_and_a_run_s_pace_and_projects_the_recipe(
    tmp_path: Path,
) -> None:
    out = tmp_path / "pace.md"
    args = ["--scenes", "20", "--repeats", "1", "--run-steps", "2", "--models", "max_pool"]
    args += ["--run-set", "60", "--val-scenes", "30"]
    done = subprocess.run([*SCRIPT, *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "lab/train_pace.py --scenes 20 --repeats 1 --run-steps 2" in text
    assert "a run's s/step, 20 scenes | a run's s/step, 60 scenes |" in text
    row = next(line for line in text.splitlines() if line.startswith("| max_pool |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    float32, bf16, ratio = float(cells[2]), float(cells[3]), float(cells[4])
    assert float32 > 0 and bf16 > 0 and ratio == pytest.approx(bf16 / float32, abs=0.01)
    fastest = bf16 if cells[5] == "bf16 autocast" else float32
    run_s, full_run_s, train_min = float(cells[6]), float(cells[7]), int(cells[8])
    assert run_s > 0 and full_run_s > 0  # a run's step: fresh batches, batch making included
    recipe = load_recipe("default")
    per_minute = recipe.train.steps / 60
    # the steps are projected at the pace drawn from the recipe-sized set, read unrounded
    assert abs(train_min - full_run_s * per_minute) <= 0.5 + 0.0005 * per_minute
    render_min, val_s, val_min = int(cells[10]), int(cells[11]), int(cells[12])
    assert float(cells[9]) > 0 and float(cells[14]) > 0  # rendering time and memory
    validations = math.ceil(train_min / recipe.train.chunk_minutes) + 1  # every chunk, the end
    assert abs(val_min - val_s * validations / 60) <= 0.5 + validations / 120
    assert abs(int(cells[13]) - (train_min + render_min + val_min)) <= 2  # all, each rounded
    fused, slower = float(cells[15]), float(cells[16])  # the step through the fused attention
    assert fused > 0 and slower == pytest.approx(fused / fastest, abs=0.01)
    assert "| max_pool_96 |" not in text


def test_an_unknown_model_is_refused_by_name() -> None:
    done = subprocess.run([*SCRIPT, "--models", "huge"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown model(s) ['huge']" in done.stderr
