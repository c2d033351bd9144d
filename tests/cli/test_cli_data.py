"""``anyseek data synth`` / ``show``: they work, and bad arguments give one clear error line."""

from __future__ import annotations

import pytest
from PIL import Image

from anyseek.cli import main


def _run(capsys, *args: str) -> tuple[int, str]:
    """Run the CLI in-process; exit code and stderr."""
    code = main(["data", *args])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "--n must be a positive"),
        (["--n", "-3"], "--n must be a positive"),
        (["--n", "2", "--size", "65"], "--size 65 is not supported"),
        (["--n", "2", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_synth_rejects_bad_arguments(tmp_path, capsys, args, message):
    code, err = _run(capsys, "synth", "--out", str(tmp_path / "d"), *args)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "d" / "train").exists()


def test_synth_rejects_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = _run(capsys, "synth", "--out", str(blocker / "d"), "--n", "2")
    assert code == 1 and "not writable" in err and len(err.strip().splitlines()) == 1


def test_synth_then_show(tmp_path, capsys):
    out = tmp_path / "d"
    code, _ = _run(capsys, "synth", "--out", str(out), "--n", "3", "--seed", "4", "--quiet")
    assert code == 0
    sheet = tmp_path / "sheet.png"
    code, _ = _run(capsys, "show", str(out), "--n", "8", "--out", str(sheet))
    assert code == 0
    with Image.open(sheet) as img:
        assert img.width > 8 * 64 and img.height > 3 * 64


def test_show_errors(tmp_path, capsys):
    code, err = _run(capsys, "show", str(tmp_path), "--out", str(tmp_path / "s.png"))
    assert code == 1 and "is not a scene dataset" in err
    code, err = _run(capsys, "show", str(tmp_path), "--n", "0")
    assert code == 1 and "--n must be a positive" in err
