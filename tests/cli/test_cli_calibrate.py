"""``anyseek calibrate``: an uncalibrated copy of the built-in model gets a ``relevance.json``
fitted to its own version, which search then reads; bad arguments are one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from anyseek.cli import main
from anyseek.model.service import load_search_model
from anyseek.search.relevance import calibration_of, relevance_note, uncalibrated_note

BUILTIN = Path(__file__).resolve().parents[2] / "model" / "builtin" / "weights"


def test_calibrate_writes_the_relevance_search_reads(tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUILTIN, bundle, ignore=shutil.ignore_patterns("relevance.json"))
    assert relevance_note(load_search_model(str(bundle))) is not None
    report = tmp_path / "relevance.md"
    args = ["--model", str(bundle), "--n", "16", "--kinds", "caption,sketch", "--out", str(report)]
    assert main(["calibrate", *args]) in (0, None)
    # written into the model's folder, for its version, with the pooled fit as the default
    body = json.loads((bundle / "relevance.json").read_text())
    model = load_search_model(str(bundle))
    assert body["model"] == model.version and set(body["kinds"]) == {"caption", "sketch", "default"}
    calibration = calibration_of(model)
    assert calibration is not None and relevance_note(model) is None
    # a query's best hit is more relevant than one far below it, and a higher score more so
    best, low = calibration.relevance("sketch", [0.8, 0.4], best=0.8)
    assert 0 <= low < best <= 1
    # the report starts with the command that rewrites it, then one row per kind checked
    lines = report.read_text().splitlines()
    assert lines[0].startswith("Command: `anyseek calibrate --model ") and "--n 16" in lines[0]
    rows = [line.split(" | ") for line in lines if line.startswith(("| caption", "| sketch"))]
    assert len(rows) == 2 and all(float(r[-1].rstrip(" |")) < 0.2 for r in rows), rows
    assert "| sketch |" in capsys.readouterr().out


def test_the_uncalibrated_note_names_the_command() -> None:
    assert "anyseek calibrate --model SOURCE" in uncalibrated_note("m", "v1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "3"], "--n must be at least 10"),
        (["--kinds", "caption,smell"], "smell"),
        (["--model", "/nonexistent/bundle"], "/nonexistent/bundle"),
    ],
)
def test_calibrate_rejects_bad_arguments(capsys, args, message) -> None:
    code = main(["calibrate", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_the_report_reads_its_own_rows() -> None:
    """The sentence under the table is written from the rows, so a rerun cannot leave it stale."""
    from anyseek.workbench.calibrate import CheckRow, Fit

    rows = [
        CheckRow("caption", 0.509, 0.527, 0.977, 0.512, 0.0182),
        CheckRow("sketch", 0.976, 0.993, 0.983, 0.995, 0.0012),
        CheckRow("depth", 0.992, 1.0, 1.0, 0.998, 0.0002),
    ]
    text = Fit("m", 400, 555001, 47.0, rows=rows).markdown("anyseek calibrate")
    assert text.startswith("Command: `anyseek calibrate`")
    assert "its #1 is the asked scene 52.7% of the time and the calibration says 0.51" in text
    others = "Every other kind's #1 is right 99.3%-100.0% of the time and said to be 0.98-0.99"
    assert others in text
