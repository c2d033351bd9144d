"""lab/people_words.py: its everyday words are words search does not already know, its wordings
are what they say, and a real run on two small galleries writes intervals that hold."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from anyseek.model.vocabulary.synonyms import SYNONYMS
from anyseek.scenes.captions import MATERIAL_WORDS, NOUNS
from anyseek.scenes.scene import COLORS, SIZES
from lab.people_words import DEFAULT_WORDINGS, EVERYDAY, WORDINGS, everyday

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = [sys.executable, str(ROOT / "lab" / "people_words.py")]
GENERATOR = (
    set(COLORS) | set(SIZES) | {n for ns in NOUNS.values() for n in ns}
    | {w for ws in MATERIAL_WORDS.values() for w in ws if w} | {"little", "big"}
)  # fmt: skip


def test_everyday_words_are_neither_the_generator_s_nor_in_the_synonym_table() -> None:
    assert set(EVERYDAY) <= GENERATOR
    said = {w for words in EVERYDAY.values() for phrase in words for w in re.split(r"\W+", phrase)}
    assert not said & set(SYNONYMS), said & set(SYNONYMS)
    own = said & GENERATOR  # a generator word may only qualify an everyday one ("tomato red")
    assert all(any(w in p.split() and p != w for ps in EVERYDAY.values() for p in ps) for w in own)


def test_an_everyday_caption_keeps_none_of_the_generator_s_object_words() -> None:
    rng = random.Random(0)
    said = everyday("a small red metal cube and a large blue ball", rng)
    for word in GENERATOR - {"red", "blue"}:  # colours may qualify ("tomato red")
        assert not re.search(rf"\b{word}\b", said), said
    assert DEFAULT_WORDINGS == ("careful", "rough", "everyday")
    assert WORDINGS["careful"].style.p_typo == 0 == WORDINGS["careful"].style.p_some_objects


def test_a_caption_s_parts_alone_are_its_colours_or_its_shapes() -> None:
    caption = "a small red metal cube and a large blue ball"
    colours = WORDINGS["colours"].rewrite(caption, random.Random(0))
    shapes = WORDINGS["shapes"].rewrite(caption, random.Random(0))
    assert colours.split() == ["a", "red", "and", "a", "blue"]
    assert shapes.split() == ["a", "cube", "and", "a", "ball"]


def test_an_unknown_wording_is_refused_by_name() -> None:
    args = ["--seeds", "1", "--models", "a=x", "--wordings", "careful,fancy"]
    done = subprocess.run([*SCRIPT, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "unknown wording 'fancy'" in done.stderr


@pytest.mark.slow
def test_a_run_on_two_small_galleries_writes_each_model_s_rows_and_paired_changes(
    tmp_path: Path,
) -> None:
    weights = ROOT / "model" / "builtin" / "weights"
    out, data = tmp_path / "words.md", tmp_path / "words.json"
    args = ["--seeds", "11,12", "--n", "40", "--models", f"a={weights}", f"b={weights}"]
    done = subprocess.run(
        [*SCRIPT, *args, "--json", str(data), "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(data.read_text())
    assert found["n"] == 40 and found["seeds"] == [11, 12]
    for wording in DEFAULT_WORDINGS:
        for metric in ("R@1", "R@10"):
            row = found["rows"][wording][metric]
            a, change = row["a"], row["b - a"]
            assert a == row["b"] and 0 <= a["low"] <= a["mean"] <= a["high"] <= 1
            assert change == {"mean": 0.0, "low": 0.0, "high": 0.0}  # one model twice
    assert "lab/people_words.py --seeds 11,12 --n 40" in out.read_text()
