"""The product's tree holds the product: one bundle of weights (the shipped built-in model), and
the model research (its scripts, results, draft recipes and log) in lab/, not in bench/ or in the
package (issue 70)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
#: where weights may be: the shipped bundle, and the official-format fixtures the loading tests read
WEIGHTS_AT = ("model/builtin/weights/", "tests/fixtures/")


def _tracked() -> list[str]:
    """The files git tracks in this checkout."""
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_only_weights_are_the_shipped_bundle_and_the_test_fixtures() -> None:
    weights = [f for f in _tracked() if f.endswith(WEIGHTS)]
    assert any(f.startswith(WEIGHTS_AT[0]) for f in weights)  # the walk did see the bundle
    assert [f for f in weights if not f.startswith(WEIGHTS_AT)] == []


def test_the_package_ships_only_the_recipes_it_trains_by_name() -> None:
    """Draft recipes are the research's (lab/recipes/); the package has the shipped one and the
    tests' tiny one."""
    recipes = sorted(p.stem for p in (ROOT / "anyseek" / "workbench" / "recipes").glob("*.json"))
    assert recipes == ["default", "tiny"]


def test_bench_runs_no_model_research() -> None:
    """No script of the lab's (training runs, levers, model comparisons) is back in bench/."""
    lab = {p.name for p in (ROOT / "lab").glob("*.py")}
    assert lab, "the lab's scripts were not found"
    assert sorted(lab & {p.name for p in (ROOT / "bench").glob("*.py")}) == []
