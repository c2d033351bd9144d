"""``anyseek index`` checks what it was given before it loads anything, as a real process: with a
model setting that cannot load, a missing source, a bad collection name and a caption source that
is a folder are each refused for what they are, so the user hears it in a moment, not after the
model has loaded (issue 71)."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_process import process_env, run_cli

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (("{tmp}/nonexistent", "-c", "x"), "{tmp}/nonexistent does not exist"),
        (("{tmp}", "-c", "bad name!"), "invalid collection name 'bad name!'"),
        (("{tmp}", "-c", "x", "--modality", "caption"), "is not a file"),
        (("{tmp}", "-c", "x", "--modality", "smell"), "unknown modality 'smell'"),
    ],
)
def test_what_is_given_is_checked_before_the_model_loads(
    tmp_path: Path, args: tuple[str, ...], refusal: str
) -> None:
    env = process_env(tmp_path / "data", ANYSEEK_MODEL__SOURCE=str(tmp_path / "no-model"))
    done = run_cli(env, "index", *(a.format(tmp=tmp_path) for a in args), timeout=280)
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and refusal.format(tmp=tmp_path) in line, line
    assert "no-model" not in line  # the model was never loaded to find out
