"""``lab/results/human.md``, written from two retrieval reports of the same scenes: the shipped
model's summary beside the previous generation's, the targets, what moved, and the full report.

    anyseek eval retrieval --n 1000 --seed S --human --json lab/results/human.json
    anyseek eval retrieval --n 1000 --seed S --human --model PREVIOUS \
        --json lab/results/human_previous.json
    PYTHONPATH=. .venv/bin/python lab/human_report.py --names v9 v10 --seed S \
        --wall SECONDS --out lab/results/human.md

Every number of the file is read from the two JSON files (both committed beside it), so the
summary cannot drift from the full report and ``tests/lab/test_human_report.py`` rewrites it
from them to check.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.workbench.metrics import RetrievalResult
from lab.compare_models import Change

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class SummaryRow:
    """One row of the summary: its label, the report's query, what it shows, and its target."""

    label: str
    query: str
    target: str
    metrics: tuple[str, ...] = ("R@1", "R@10")


SUMMARY = (
    SummaryRow("sketch, generator's", "sketch", "R@1 >= 0.95 (#37)"),
    SummaryRow("depth, generator's", "depth", "R@1 >= 0.95 (#37)"),
    SummaryRow("segmentation, generator's", "semseg", "R@1 >= 0.95 (#37)"),
    SummaryRow("normals, generator's", "normal", "R@1 >= 0.95 (#37)"),
    SummaryRow("caption, generator's", "caption", "R@1 >= 0.9 (#37)"),
    SummaryRow("caption + sketch, generator's", "caption+sketch", "R@1 >= 0.97 (#37)"),
    SummaryRow("caption + depth, generator's", "caption+depth", "R@1 >= 0.97 (#37)"),
    SummaryRow("sketch, default person", "sketch (default)", "R@10 >= 0.9 (#37)"),
    SummaryRow("painted segmentation, default person", "semseg (default)", "R@10 >= 0.9 (#37)"),
    SummaryRow(
        "own-words caption, default person",
        "caption (default)",
        "R@1 >= 0.8 (#37; a perfect reader of these words: `caption_ceiling.md`)",
    ),
    SummaryRow("caption + sketch, default person", "caption+sketch (default)", ""),
    SummaryRow(
        "sketch, held-out person (`scrawl`)", "sketch (scrawl, held out)", "R@10 >= 0.7 (#53)"
    ),
    SummaryRow("painting, held-out person", "semseg (scrawl, held out)", "R@10 >= 0.9 (#53)"),
    SummaryRow("own words, held-out person", "caption (scrawl, held out)", ""),
    SummaryRow("caption + sketch, held-out person", "caption+sketch (scrawl, held out)", ""),
    SummaryRow(
        "one-object captions, attribute precision@10", "object", ">= 0.7 (#53)", ("attr_P@10",)
    ),
)
PEOPLE = (
    "People are `anyseek/scenes/human.py`'s drawing model under the named styles of "
    "`anyseek/workbench/styles.py`: `default` (the person of `--human`; training drew other seeds "
    "of it, never these scenes' drawings), and `scrawl`, a person **held out of every training "
    "recipe** "
    "(shaky broken strokes, squashed shapes, tall pages, paint spilling over edges, typos). Their "
    "queries reach the model as a user's files do: through the bundle's declared transforms "
    "(`fit: stretch` for sketches and paintings: a page of any shape is read whole), captions "
    "through the model's caption reading."
)


def summary_cell(report: dict, row: SummaryRow) -> str:
    """A model's numbers of one summary row, ``R@1 / R@10`` (or the one metric it shows)."""
    metrics = report.get(row.query, {}).get("bind", {})
    return " / ".join(f"{metrics[m]:.3f}" for m in row.metrics if m in metrics)


def moved(old: dict, new: dict, tolerance: float) -> list[str]:
    """One line per number of the summary that moved past ``tolerance`` between the reports."""
    lines = []
    for row in SUMMARY:
        before, after = (
            old.get(row.query, {}).get("bind", {}),
            new.get(row.query, {}).get("bind", {}),
        )
        for metric in (m for m in row.metrics if m in before and m in after):
            change = Change(row.label, metric, before[metric], after[metric])
            if mark := change.mark(tolerance):
                lines.append(
                    f"- {row.label}, {metric}: {change.old:.3f} -> {change.new:.3f} ({mark})"
                )
    return lines


def render(
    names: tuple[str, str], reports: tuple[dict, dict], n: int, seed: int, wall: float,
    command: str, tolerance: float,
) -> str:  # fmt: skip
    """The whole file."""
    (old_name, new_name), (old, new) = names, reports
    lines = [
        f"# People's queries on the built-in model {new_name} ({n:,} scenes, seed {seed})",
        "",
        f"Commands: `anyseek eval retrieval --n {n} --seed {seed} --human --json "
        f"lab/results/human.json` ({wall:.0f} s wall on this 2-core CPU, nothing else "
        "running; the seed was chosen after training), the same with `--model DIR` (the "
        f"previous generation's bundle, {old_name}) and `--json "
        f"lab/results/human_previous.json`, then `{command}`.",
        "",
        PEOPLE,
        "",
        f"| query | {old_name} R@1 / R@10 | {new_name} R@1 / R@10 | target (issue) |",
        "|---|---|---|---|",
    ]
    for row in SUMMARY:
        lines.append(
            f"| {row.label} | {summary_cell(old, row)} | {summary_cell(new, row)} | {row.target} |"
        )
    changes = moved(old, new, tolerance)
    lines += [
        "",
        f"{old_name} is the previous committed model on the same scenes and drawings; earlier "
        "generations are in this file's git history. What changed between them and why: "
        "`docs/builtin_model.md`.",
        "",
        f"Summary numbers that moved more than {tolerance} from {old_name}:",
        "",
    ]
    lines += changes or ["- none"]
    lines += ["", "## Full report", "", RetrievalResult(new, n, seed).markdown().rstrip()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write human.md from the two committed reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs=2, required=True, metavar=("PREVIOUS", "SHIPPED"))
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--wall", type=float, required=True, help="the shipped model's eval, s")
    parser.add_argument("--report", type=Path, default=RESULTS / "human.json")
    parser.add_argument("--previous", type=Path, default=RESULTS / "human_previous.json")
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--out", type=Path)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    try:
        reports = (json.loads(args.previous.read_text()), json.loads(args.report.read_text()))
    except (OSError, ValueError) as exc:
        sys.exit(f"cannot read a report: {exc}")
    command = "PYTHONPATH=. .venv/bin/python " + shlex.join(["lab/human_report.py", *argv])
    text = render(tuple(args.names), reports, args.n, args.seed, args.wall, command, args.tolerance)
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
