"""lab/candidate.py: a candidate's whole evaluation against v10 and v9, run for real on small
galleries, and the seeds and folders it refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = [sys.executable, str(ROOT / "lab" / "candidate.py")]
SHIPPED = ROOT / "model" / "builtin" / "weights"


def candidate(*args: str) -> subprocess.CompletedProcess[str]:
    """The tool's run with ``args``."""
    return subprocess.run([*SCRIPT, *args], capture_output=True, text=True, timeout=1200)


def test_a_seed_a_result_file_already_names_is_refused(tmp_path: Path) -> None:
    # 20261351 is the human evaluation's seed of v11e against v10 (lab/results/v11e_vs_v10.md)
    args = ["--name", "v99", "--bundle", str(SHIPPED), "--about", "a test", "--work"]
    done = candidate(*args, str(tmp_path), "--seed", "20261349")
    assert done.returncode == 2 and "20261351" in done.stderr and "already named" in done.stderr
    assert not any(tmp_path.iterdir())  # nothing evaluated


def test_a_folder_without_a_bundle_is_refused(tmp_path: Path) -> None:
    done = candidate("--name", "v99", "--bundle", str(tmp_path), "--about", "a test", "--work",
                     str(tmp_path / "work"), "--seed", "91000001")  # fmt: skip
    assert done.returncode == 2 and "no bundle there" in done.stderr


@pytest.mark.slow
def test_the_shipped_model_as_candidate_equals_v10_on_every_row_and_resumes(
    tmp_path: Path,
) -> None:
    results, work = tmp_path / "results", tmp_path / "work"
    results.mkdir()
    args = ["--name", "same", "--bundle", str(SHIPPED), "--about", "v10 itself", "--n", "12"]
    args += ["--seed", "91000001", "--work", str(work), "--results", str(results)]
    args += ["--v9", str(SHIPPED)]  # the pipeline is tested here, not v9: no git history needed
    done = candidate(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    against = (results / "same_vs_v10.md").read_text()
    assert "seeds 91000001 and 91000002, chosen after training" in against
    rows = [line for line in against.splitlines() if line.startswith("| ") and "change" not in line]
    assert len(rows) > 20  # both sections: the human evaluation and the any-to-any table
    assert all(row.split("|")[5].strip() in ("+0.000", "-0.000") for row in rows)
    assert (results / "same_vs_v9.md").is_file()
    words = (results / "people_words_same.md").read_text()
    assert "91000003, 91000004, 91000005, 91000006, 91000007" in words
    assert "| careful | R@1 |" in words
    # a second call finds every step done and reruns none (its own reports name its seeds)
    again = candidate(*args)
    assert again.returncode == 0 and "$ " not in again.stdout
    # other seeds under the same name would mix two evaluations: refused by the report's name
    other = candidate(*[a if a != "91000001" else "92000001" for a in args])
    assert other.returncode == 2 and "same_vs_v10.md is from other seeds" in other.stderr
