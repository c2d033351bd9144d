"""lab/render_pair.py: two trees' rendering timed in turns, their sets compared tensor by tensor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lab.render_pair import same_sets

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = [sys.executable, str(ROOT / "lab" / "render_pair.py")]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # as its command runs it: it imports lab.*


@pytest.mark.slow
def test_a_tree_against_itself_renders_the_same_set_in_turns(tmp_path: Path) -> None:
    out = tmp_path / "pair.md"
    args = ["--before", str(ROOT), "--recipe", "tiny", "--scenes", "6", "--turns", "2"]
    done = subprocess.run([*SCRIPT, *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=600, env=ENV)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "--recipe tiny --scenes 6 --turns 2" in text
    rows = [line for line in text.splitlines() if line.startswith(("| before", "| after"))]
    assert len(rows) == 2
    for row in rows:
        turns = [float(s) for s in row.split("|")[3].split(",")]
        assert len(turns) == 2 and all(s > 0 for s in turns)
    assert "tensor for tensor: **identical**" in text
    assert 0 < float(text.split("turns: **")[1].split("**")[0]) < 10


def _chunk(folder: Path, name: str, scenes: torch.Tensor) -> None:
    folder.mkdir(exist_ok=True)
    torch.save({"scenes": {"rgb": scenes}, "drawings": {}, "occupied": None}, folder / name)


def test_sets_differing_in_one_value_or_one_chunk_are_told_apart(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    rgb = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)
    _chunk(a, "chunk-0000.pt", rgb)
    _chunk(b, "chunk-0000.pt", rgb.clone())
    assert same_sets(a, b)
    changed = rgb.clone()
    changed[1, 2, 3] += 1
    _chunk(b, "chunk-0000.pt", changed)
    assert not same_sets(a, b)
    _chunk(b, "chunk-0000.pt", rgb.clone())
    _chunk(b, "chunk-0001.pt", rgb.clone())
    assert not same_sets(a, b)


def test_a_before_that_is_no_source_tree_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([*SCRIPT, "--before", str(tmp_path)], capture_output=True, text=True,
                          env=ENV)  # fmt: skip
    assert done.returncode == 2 and "is not a source tree" in done.stderr
