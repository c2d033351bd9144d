"""What setting up costs on this machine: `make install` and `make test-clip`'s venv in a new clone.

    PYTHONPATH=. .venv/bin/python bench/install.py --out bench/results/install.md

Clones the checkout's HEAD into a scratch folder, times ``make install`` there (the test venv,
every extra but ``clip``) and then the clip venv (``make .venv-clip/.installed-clip``: PyPI's
default torch with open-clip-torch), and measures each venv on disk, with the share of its
``nvidia-*`` packages. pip reads its cache as any second install on this machine would; the load
average before and after each step is written beside its time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = (  # (label, make target, the venv it builds)
    ("make install", "install", ".venv"),
    ("make test-clip's venv", ".venv-clip/.installed-clip", ".venv-clip"),
)


@dataclass(frozen=True)
class Step:
    """One set-up step: its wall time, the venv's size, the load around it."""

    label: str
    seconds: float
    venv: str
    venv_gb: float
    nvidia_gb: float
    load_before: float
    load_after: float


def size_gb(path: Path) -> float:
    """Bytes under ``path`` (files only, links not followed), in GB (10^9)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            file = Path(folder) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total / 1e9


def nvidia_gb(venv: Path) -> float:
    """What the venv's ``nvidia-*`` packages (CUDA libraries) take on disk, in GB."""
    return sum(size_gb(p) for p in venv.glob("lib/python*/site-packages/nvidia*"))


def run_step(clone: Path, label: str, target: str, venv: str) -> Step:
    """``make TARGET`` in the clone, timed; a failed step stops the bench with make's output."""
    before = os.getloadavg()[0]
    start = time.perf_counter()
    result = subprocess.run(["make", target], cwd=clone, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{label} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    folder = clone / venv
    return Step(
        label, seconds, venv, size_gb(folder), nvidia_gb(folder), before, os.getloadavg()[0]
    )


def report(steps: list[Step], command: str) -> str:
    """The result file: its command, then one row per step."""
    lines = [
        "# Setting up: the venvs in a new clone",
        "",
        f"Command: `{command}`",
        "",
        "A new clone of the checkout's HEAD; pip's cache as this machine had it; the load average "
        "(1 min) before and after each step, as other jobs may share the two cores.",
        "",
        "| step | venv | wall time | size | of it nvidia-* | load before / after |",
        "|---|---|---|---|---|---|",
    ]
    for s in steps:
        lines.append(
            f"| {s.label} | `{s.venv}` | {s.seconds:.0f} s | {s.venv_gb:.1f} GB | "
            f"{s.nvidia_gb:.1f} GB | {s.load_before:.1f} / {s.load_after:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Clone, run each step, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "install.md")
    parser.add_argument("--skip-clip", action="store_true", help="only `make install`")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="anyseek-install-"))
    try:
        clone = scratch / "anyseek"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        steps = [run_step(clone, *step) for step in STEPS[: 1 if args.skip_clip else 2]]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    command = "PYTHONPATH=. .venv/bin/python bench/install.py --out bench/results/install.md"
    args.out.write_text(report(steps, command + (" --skip-clip" if args.skip_clip else "")))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
