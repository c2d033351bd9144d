"""lab/train_pace.py: a real render and real steps both ways, projected to the shipped recipe."""

from __future__ import annotations

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
    done = subprocess.run([*SCRIPT, *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "lab/train_pace.py --scenes 20 --repeats 1 --run-steps 2" in text
    row = next(line for line in text.splitlines() if line.startswith("| max_pool |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    float32, bf16, ratio = float(cells[2]), float(cells[3]), float(cells[4])
    assert float32 > 0 and bf16 > 0 and ratio == pytest.approx(bf16 / float32, abs=0.01)
    fastest = bf16 if cells[5] == "bf16 autocast" else float32
    run_s, train_min, render_min = float(cells[6]), int(cells[7]), int(cells[9])
    assert run_s > 0  # a run's step: fresh batches, batch making included
    per_minute = load_recipe("default").train.steps / 60
    # the table rounds the seconds to 3 decimals, the projection reads them unrounded
    assert abs(train_min - run_s * per_minute) <= 0.5 + 0.0005 * per_minute
    assert float(cells[8]) > 0 and float(cells[11]) > 0  # rendering time and memory
    assert abs(int(cells[10]) - (train_min + render_min)) <= 1  # from nothing: both, rounded
    fused, slower = float(cells[12]), float(cells[13])  # the step through the fused attention
    assert fused > 0 and slower == pytest.approx(fused / fastest, abs=0.01)
    assert "| max_pool_96 |" not in text


def test_an_unknown_model_is_refused_by_name() -> None:
    done = subprocess.run([*SCRIPT, "--models", "huge"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown model(s) ['huge']" in done.stderr
