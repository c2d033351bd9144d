"""Two source trees' rendering of a recipe's training set, timed in alternating turns on this CPU.

    git worktree add --detach /tmp/before COMMIT
    PYTHONPATH=. .venv/bin/python lab/render_pair.py --before /tmp/before \
        --recipe default --scenes 2000 --turns 2 --out FILE

Each turn renders ``--scenes`` of the recipe's set (its seed, side, styles, chunk and worker
count, as a run's ``build_cache`` does) once with each tree's code, in a fresh process, so a
2-core machine's drift between minutes falls on both alike. The sets the two trees render are
compared tensor for tensor: a faster renderer that drew other data would be another recipe.
Reported: each side's seconds per 1,000 scenes, turn by turn, and the median ratio after/before.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from anyseek.workbench.recipe import load_recipe
from lab.train_pace import cpu_name

ROOT = Path(__file__).resolve().parents[1]

#: run in a child with one tree first on its path: render the set, print the seconds it took
CHILD = """
import json, sys, time
from pathlib import Path
from anyseek.workbench.cache import build_cache
from anyseek.workbench.drawing_transforms import declared_readers
from anyseek.workbench.recipe import load_recipe
recipe, scenes, folder = load_recipe(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
d = recipe.data
began = time.monotonic()
build_cache(folder, n=scenes, seed=d.seed, size=d.size, styles=d.styles, chunk=d.chunk,
            workers=d.workers, readers=declared_readers(d.size, d.input_settings))
print(json.dumps({"seconds": time.monotonic() - began}))
"""


def render_seconds(tree: Path, recipe: str, scenes: int, folder: Path) -> float:
    """Seconds ``tree``'s code takes to render the recipe's first ``scenes`` into ``folder``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, recipe, str(scenes), str(folder)],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"rendering with {tree} failed:\n{done.stderr[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def tree_name(tree: Path) -> str:
    """The commit a source tree is at, and whether its tracked files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return f"{tree.name} (not a git checkout)"
    return commit + (" with uncommitted changes" if git("status", "--porcelain", "-uno") else "")


def same_sets(a: Path, b: Path) -> bool:
    """Whether two rendered folders hold the same chunks, tensor for tensor."""
    names = sorted(p.name for p in a.glob("chunk-*.pt"))
    if names != sorted(p.name for p in b.glob("chunk-*.pt")):
        return False
    return all(
        _equal(torch.load(a / n, weights_only=False), torch.load(b / n, weights_only=False))
        for n in names
    )


def _equal(x: object, y: object) -> bool:
    """Deep equality of saved chunks: tensors exactly, containers item by item."""
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.dtype == y.dtype and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, list | tuple):
        return len(x) == len(y) and all(_equal(i, j) for i, j in zip(x, y, strict=True))
    if hasattr(x, "__dict__"):
        return type(x) is type(y) and _equal(vars(x), vars(y))
    return x == y


def main(argv: list[str] | None = None) -> int:
    """Time both trees' rendering in turns, check they agree, print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the tree to compare against")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this tree")
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.scenes < 1 or args.turns < 1:
        parser.error("--scenes and --turns must be at least 1")
    if not (args.before / "anyseek").is_dir():
        parser.error(f"--before {args.before} is not a source tree (no anyseek/ in it)")
    recipe = load_recipe(args.recipe)
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    times: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for turn in range(args.turns):
            for name, tree in sides.items():
                folder = Path(tmp) / f"{name}-{turn}"
                times[name].append(render_seconds(tree, args.recipe, args.scenes, folder))
        identical = same_sets(Path(tmp) / "before-0", Path(tmp) / "after-0")
    per_1000 = {n: [s / args.scenes * 1000 for s in t] for n, t in times.items()}
    ratio = statistics.median(a / b for a, b in zip(times["after"], times["before"], strict=True))
    shown = " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    d = recipe.data
    lines = [
        "# Rendering a recipe's training set: two source trees in alternating turns",
        "",
        f"Command: `PYTHONPATH=. .venv/bin/python lab/render_pair.py {shown}`",
        "",
        f"CPU: {cpu_name()}. Recipe `{recipe.name}`: {args.scenes:,} of its scenes at "
        f"{d.size} px, drawn by {len(d.styles)} styles ({', '.join(d.styles)}), chunks of "
        f"{d.chunk:,} on {d.workers} worker processes, as a run's `build_cache` renders them; "
        f"each side in a fresh process, the two alternating for {args.turns} turns.",
        "",
        "| side | tree | s / 1,000 scenes, by turn | mean |",
        "|---|---|---|---|",
        *(
            f"| {n} | `{tree_name(sides[n])}` | {', '.join(f'{s:.1f}' for s in per_1000[n])} | "
            f"{statistics.mean(per_1000[n]):.1f} |"
            for n in sides
        ),
        "",
        f"After / before, median of the turns: **{ratio:.2f}**.",
        "",
        f"The two sets, tensor for tensor: **{'identical' if identical else 'different'}**.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
