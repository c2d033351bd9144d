"""The learning curve of an ``anyseek train default`` run as markdown (lab/results/training.md).

    PYTHONPATH=. .venv/bin/python lab/training_report.py --run runs/v4 \
        --load runs/v4.load --out lab/results/training.md

Reads the run folder (``recipe.json``, ``history.json``: one record per checkpointed chunk,
``calls.json``: each call's wall time; a run stopped before its end, its last checkpoint's
curve) and, optionally, a file of ``/proc/loadavg`` samples taken
while it ran; writes the command, the wall time, the load and the curve.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COLUMNS = (
    "sketch R@1", "edges R@1", "depth R@1", "semseg R@1", "normal R@1", "caption R@1",
    "object attr_P@10",
    "caption+sketch R@1", "sketch (default) R@10", "semseg (default) R@10",
    "caption (default) R@1", "sketch (scrawl, held out) R@10", "semseg (scrawl, held out) R@10",
)  # fmt: skip


def main() -> None:
    """Write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--load", type=Path, help="lines 'HH:MM:SS <contents of /proc/loadavg>'")
    parser.add_argument("--note", default="", help="what else the machine did meanwhile")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--title", default="Training the built-in model")
    parser.add_argument(
        "--recipe", help="the --recipe the run was given (default: the recipe's name, as shipped)"
    )
    args = parser.parse_args()
    from anyseek.workbench.card import curve_table

    recipe = json.loads((args.run / "recipe.json").read_text())
    history, stopped = read_history(args.run)
    given = args.recipe or recipe["name"]
    calls = json.loads((args.run / "calls.json").read_text())
    wall = sum(c["seconds"] for c in calls) / 60
    lines = [
        f"# {args.title}",
        "",
        f"Command: `anyseek train default --recipe {given} --out {args.run}`",
        "",
        f"wall time: {wall:.0f} min",
        "",
        f"Calls: {len(calls)} ("
        + ", ".join(f"{c['seconds'] / 60:.1f} min ended {c['ended']}" for c in calls)
        + "); training itself "
        f"{history[-1]['minutes']:.1f} min for {history[-1]['step']} steps of "
        f"{recipe['train']['batch']}.",
    ]
    if stopped:
        lines += [
            "",
            f"**Stopped before its end**: the curve is the last checkpoint's, step "
            f"{history[-1]['step']} of the recipe's {recipe['train']['steps']}; a call killed "
            "before it ended is not in the wall time.",
        ]
    if args.load and args.load.is_file():
        samples = load_samples(args.load.read_text())
        lines += [
            "",
            f"Load average (1 min) sampled every minute while it ran: median "
            f"{sorted(samples)[len(samples) // 2]:.2f}, max {max(samples):.2f} over "
            f"{len(samples)} samples on 2 cores. {args.note}".rstrip(),
        ]
    lines += [
        "",
        "Learning curve: the held-out validation gallery (1,000 scenes, seed "
        f"{recipe['val']['seed']}) after every chunk; R@1 of the generator's queries, R@10 of "
        "people's (`default`: the person of `--human`, seeds never trained on; `scrawl`: a "
        "person held out of training).",
        "",
        *curve_table(history, COLUMNS),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


def read_history(run: Path) -> tuple[list[dict[str, float]], bool]:
    """The run's per-chunk records and whether it was stopped: a finished run's
    ``history.json``, else (a run stopped or still going) its last checkpoint's."""
    if (run / "history.json").is_file():
        return json.loads((run / "history.json").read_text()), False
    import torch

    return torch.load(run / "checkpoint.pt", weights_only=False)["history"], True


def load_samples(text: str) -> list[float]:
    """The 1-minute load averages of a sampler's lines; other lines (a shell's 'Terminated' when
    the sampler is stopped) are skipped."""
    samples = []
    for line in text.splitlines():
        fields = line.split()
        try:
            samples.append(float(fields[1]))
        except (IndexError, ValueError):
            continue
    return samples


if __name__ == "__main__":
    main()
