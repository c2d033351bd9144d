"""lab/step_pair.py: two arms of one recipe, real steps in alternating turns on one real render."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = [sys.executable, str(ROOT / "lab" / "step_pair.py")]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # as its command runs it: it imports lab.levers


@pytest.mark.slow
def test_both_arms_step_in_turns_and_the_ratio_is_of_their_steps(tmp_path: Path) -> None:
    out = tmp_path / "pair.md"
    args = ["--recipe", "tiny", "--arms", "base,twin_rows", "--scenes", "16", "--steps", "3"]
    done = subprocess.run([*SCRIPT, *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=600, env=ENV)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "lab/step_pair.py --recipe tiny --arms base,twin_rows --scenes 16 --steps 3" in text
    rows = {
        cells[0].strip("`"): [float(c) for c in cells[1:]]
        for line in text.splitlines()
        if line.startswith("| `")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert set(rows) == {"base", "twin_rows"}
    assert all(v > 0 for values in rows.values() for v in values)
    ratio = float(text.split("**")[1])
    assert 0 < ratio < 10


def test_arms_not_two_known_ones_are_refused() -> None:
    done = subprocess.run([*SCRIPT, "--arms", "base"], capture_output=True, text=True, env=ENV)
    assert done.returncode == 2 and "--arms: two of" in done.stderr
    done = subprocess.run([*SCRIPT, "--arms", "base,huge"], capture_output=True, text=True, env=ENV)
    assert done.returncode == 2 and "--arms: two of" in done.stderr
