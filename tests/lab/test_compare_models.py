"""lab/compare_models.py: two models' reports side by side, the rows lost past the tolerance."""

from __future__ import annotations

import json
from pathlib import Path

from lab.compare_models import main, pair_changes, report_changes

OLD = {
    "sketch": {"bind": {"R@1": 0.975, "R@10": 0.999}},
    "object": {"bind": {"R@1": 0.03, "attr_P@10": 0.5}, "ceiling": {"attr_P@10": 0.999}},
    "random": {"none": {"R@1": 0.001}},
}
NEW = {
    "sketch": {"bind": {"R@1": 0.96, "R@10": 0.999}},
    "object": {"bind": {"R@1": 0.03, "attr_P@10": 0.53}, "ceiling": {"attr_P@10": 0.999}},
    "random": {"none": {"R@1": 0.001}},
}


def test_each_number_of_both_reports_is_compared_and_baselines_are_left_out() -> None:
    changes = {(c.row, c.metric): round(c.delta, 3) for c in report_changes(OLD, NEW)}
    assert changes == {
        ("sketch (bind)", "R@1"): -0.015,
        ("sketch (bind)", "R@10"): 0.0,
        ("object (bind)", "R@1"): 0.0,
        ("object (bind)", "attr_P@10"): 0.03,
    }


def test_pairs_are_compared_cell_by_cell() -> None:
    old = {"table": {"depth": {"sketch": [0.9, 0.99]}, "rgb": {"caption": [0.98, 1.0]}}}
    new = {"table": {"depth": {"sketch": [0.95, 1.0]}}}
    changes = pair_changes(old, new)
    assert [(c.row, c.metric, round(c.delta, 3)) for c in changes] == [
        ("sketch -> depth", "R@1", 0.05),
        ("sketch -> depth", "R@10", 0.01),
    ]


def test_the_file_marks_the_rows_lost_past_the_tolerance(tmp_path: Path) -> None:
    paths = []
    for name, report in (("old", OLD), ("new", NEW)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(report))
    out = tmp_path / "compare.md"
    main(["--names", "v9", "v10", "--reports", *map(str, paths), "--out", str(out)])
    text = out.read_text()
    assert "| sketch (bind) | R@1 | 0.975 | 0.960 | -0.015 | lower |" in text
    assert "| object (bind) | attr_P@10 | 0.500 | 0.530 | +0.030 | higher |" in text
    assert "1 numbers gain more than 0.01, 1 lose more." in text
