"""Two built-in models side by side: every row of their retrieval reports and any-to-any tables,
the change, and the rows the newer one loses by more than a tolerance (a ship rule).

    PYTHONPATH=. .venv/bin/python lab/compare_models.py --names v9 v10 \
        --reports old.json new.json --pairs old_pairs.json new_pairs.json --out FILE

The reports are ``anyseek eval retrieval --human --json``'s, the pairs ``lab/any_to_any.py
--json``'s, each of the same scenes for both models.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

METRICS = ("R@1", "R@10", "attr_P@10")


@dataclass(frozen=True)
class Change:
    """One number of both models."""

    row: str
    metric: str
    old: float
    new: float

    @property
    def delta(self) -> float:
        """The newer model's number less the older's."""
        return self.new - self.old

    def mark(self, tolerance: float) -> str:
        """``lower`` or ``higher`` where the change is past ``tolerance``, else empty."""
        if abs(self.delta) <= tolerance + 1e-9:  # 1e-9: three-decimal numbers read as floats
            return ""
        return "lower" if self.delta < 0 else "higher"


def report_changes(old: dict, new: dict) -> list[Change]:
    """Every (query, space, metric) both retrieval reports hold, but the random baseline."""
    changes = []
    for query, spaces in old.items():
        for space, metrics in spaces.items():
            if space in ("none", "ceiling") or space not in new.get(query, {}):
                continue
            for metric in METRICS:
                if metric in metrics and metric in new[query][space]:
                    row = f"{query} ({space})"
                    changes.append(Change(row, metric, metrics[metric], new[query][space][metric]))
    return changes


def pair_changes(old: dict, new: dict) -> list[Change]:
    """Every (gallery, query) cell both any-to-any tables hold, R@1 and R@10."""
    changes = []
    for gallery, queries in old["table"].items():
        for query, pair in queries.items():
            other = new["table"].get(gallery, {}).get(query)
            if other is None:
                continue
            for metric, before, after in zip(("R@1", "R@10"), pair, other, strict=True):
                changes.append(Change(f"{query} -> {gallery}", metric, before, after))
    return changes


def table(title: str, changes: list[Change], names: tuple[str, str], tolerance: float) -> list[str]:
    """A Markdown section: each number of both models, the change, and a mark past the tolerance."""
    lines = [f"## {title}", "", f"| row | metric | {names[0]} | {names[1]} | change | |"]
    lines.append("|---|---|---|---|---|---|")
    marks = [c.mark(tolerance) for c in changes]
    for c, mark in zip(changes, marks, strict=True):
        lines.append(
            f"| {c.row} | {c.metric} | {c.old:.3f} | {c.new:.3f} | {c.delta:+.3f} | {mark} |"
        )
    gained, lost = marks.count("higher"), marks.count("lower")
    lines += ["", f"{gained} numbers gain more than {tolerance}, {lost} lose more.", ""]
    return lines


def main(argv: list[str] | None = None) -> None:
    """Print (and write) the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs=2, required=True, metavar=("OLD", "NEW"))
    parser.add_argument("--reports", nargs=2, type=Path, required=True, metavar=("OLD", "NEW"))
    parser.add_argument("--pairs", nargs=2, type=Path, metavar=("OLD", "NEW"))
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--title", default="Two built-in models side by side")
    parser.add_argument("--out", type=Path)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    try:
        old, new = (json.loads(p.read_text()) for p in args.reports)
        pairs = [json.loads(p.read_text()) for p in args.pairs] if args.pairs else None
    except (OSError, ValueError) as exc:
        sys.exit(f"cannot read a report: {exc}")
    names = tuple(args.names)
    command = "PYTHONPATH=. .venv/bin/python " + shlex.join(["lab/compare_models.py", *argv])
    lines = [f"# {args.title}", "", f"Command: `{command}`", ""]
    lines += table("Retrieval (anyseek eval retrieval --human)", report_changes(old, new), names,
                   args.tolerance)  # fmt: skip
    if pairs:
        seed = pairs[0].get("seed")
        lines += table(f"Any to any (lab/any_to_any.py, seed {seed})",
                       pair_changes(*pairs), names, args.tolerance)  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
