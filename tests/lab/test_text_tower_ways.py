"""lab/text_tower_ways.py: a real render and real steps, the text tower taking its rows every
way in turns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = [sys.executable, str(ROOT / "lab" / "text_tower_ways.py")]


@pytest.mark.slow
def test_the_report_times_every_way_in_turns_against_the_tower_as_it_was(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from lab.text_tower_ways import WAYS

    out = tmp_path / "ways.md"
    recipe = str(ROOT / "lab" / "recipes" / "v11e-draft.json")
    args = ["--recipes", recipe, "--scenes", "40", "--batches", "1", "--rounds", "2"]
    done = subprocess.run([*SCRIPT, *args, "--cache", str(tmp_path / "cache"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| v11e-draft |")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [c[3] for c in cells] == [way.name for way in WAYS]
    first_tower, first_step = float(cells[0][4]), float(cells[0][6])
    assert cells[0][5] == "1.00" and cells[0][7] == "1.000"
    assert cells[0][8] == "1.000, 1.000"  # the first way against itself, turn by turn
    for c in cells:
        rows_n, distinct = int(c[1]), int(c[2])
        assert 0 < distinct < rows_n  # 256 rows drawn from 40 scenes repeat their captions
        assert float(c[5]) == pytest.approx(float(c[4]) / first_tower, abs=0.01)
        assert float(c[7]) == pytest.approx(float(c[6]) / first_step, abs=0.005)
        assert len(c[8].split(", ")) == 2  # one ratio per turn


def test_a_round_count_below_one_is_refused() -> None:
    done = subprocess.run([*SCRIPT, "--rounds", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and "must be at least 1" in done.stderr
