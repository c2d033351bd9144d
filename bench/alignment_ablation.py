"""Compare built-in-model training runs that differ only in the FM objective (fused R@1 / R@10).

Each run is an ``anyseek train default`` folder whose ``bundle/eval.json`` the eval stage wrote;
the runs share their data, teachers and tokenizers (copied from one prepared run), so the table
isolates the FM objective. Usage::

    python bench/alignment_ablation.py runs/abl_base runs/abl_align ... --out results.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

QUERIES = ("sketch", "depth", "semseg", "normal", "edges", "caption", "object", "caption+sketch")
ALIASES = {"normal": ("normal", "normals")}  # runs evaluated before the one-name change


def fused(report: dict, query: str) -> dict[str, float] | None:
    """The fused metrics of a query in an eval report (None if the run did not ask it)."""
    for name in ALIASES.get(query, (query,)):
        if name in report:
            return report[name].get("fused")
    return None


def align_label(run: Path) -> str:
    """The run's dino teacher and FM objective, from its config.json."""
    config = json.loads((run / "config.json").read_text())
    bound = (config.get("bind") or {}).get("modalities")
    teacher = f"bound teacher ({', '.join(bound)})" if bound else "SimCLR teacher"
    align = config["fm"].get("align") or {}
    if not align.get("weight"):
        return f"{teacher}, 4M loss"
    spaces = ", ".join(align.get("spaces") or ()) or "all spaces"
    return f"{teacher}, 4M loss + align w={align['weight']} T={align['temperature']} ({spaces})"


def table(runs: list[Path]) -> str:
    """Markdown: one row per run, R@1 / R@10 per query."""
    head = "| run | teacher, objective | " + " | ".join(QUERIES) + " |"
    rule = "|---|---|" + "---|" * len(QUERIES)
    rows = [head, rule]
    for run in runs:
        report = json.loads((run / "bundle" / "eval.json").read_text())
        report = report.get("report", report)
        cells = []
        for query in QUERIES:
            m = fused(report, query)
            cells.append("" if m is None else f"{m['R@1']:.3f} / {m['R@10']:.3f}")
        rows.append(f"| `{run.name}` | {align_label(run)} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def main() -> None:
    """Print (or write) the comparison table of the given runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="write the table here too")
    args = parser.parse_args()
    text = table(args.runs)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
