"""lab/human_report.py: human.md is written from the two committed reports, so its summary is
its full report's numbers and a rerun of its own command gives the committed file."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from lab.human_report import SUMMARY, main, render

RESULTS = Path(__file__).resolve().parents[2] / "lab" / "results"


def test_the_committed_human_md_is_its_command_s_output(tmp_path: Path, capsys) -> None:
    text = (RESULTS / "human.md").read_text()
    command = re.search(r"`PYTHONPATH=\. \.venv/bin/python (lab/human_report\.py [^`]+)`", text)
    assert command is not None, "human.md does not give the human_report.py command"
    argv = shlex.split(command.group(1))[1:]
    assert "--out" in argv
    out = argv.index("--out") + 1
    committed, argv[out] = argv[out], str(tmp_path / "human.md")
    main(argv)
    capsys.readouterr()
    assert (tmp_path / "human.md").read_text().replace(argv[out], committed) == text


def test_the_summary_is_the_reports_numbers_and_says_what_moved() -> None:
    report = json.loads((RESULTS / "human.json").read_text())
    moved = json.loads(json.dumps(report))
    moved["sketch (default)"]["bind"]["R@10"] -= 0.05  # past the tolerance
    moved["depth"]["bind"]["R@1"] -= 0.005  # within it
    text = render(("old", "new"), (report, moved), 1000, 7, 30.0, "CMD", 0.01)
    row = next(line for line in text.splitlines() if line.startswith("| sketch, default person"))
    before, after = report["sketch (default)"]["bind"], moved["sketch (default)"]["bind"]
    assert f"| {before['R@1']:.3f} / {before['R@10']:.3f} |" in row
    assert f"| {after['R@1']:.3f} / {after['R@10']:.3f} |" in row
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines == [
        f"- sketch, default person, R@10: {before['R@10']:.3f} -> {after['R@10']:.3f} (lower)"
    ]
    assert len([line for line in text.splitlines() if line.startswith("| ")]) > len(SUMMARY)
