"""People's words for the scene world: the synonym table maps each onto a word the built-in
model knows, and the committed model reports the words it cannot read."""

from __future__ import annotations

import random

import pytest

from anyseek.model.builtin.bundle import load_builtin_bundle
from anyseek.model.fourm.tokenizers.text import load_text_tokenizer
from anyseek.model.vocabulary.synonyms import (
    _SYNONYM_PATTERN,
    SYNONYMS,
    _generator_word,
    canonical_caption,
    paraphrase_words,
)
from anyseek.scenes.captions import NOUNS, PLURALS
from anyseek.scenes.sample import generate_scene
from anyseek.scenes.scene import COLORS, SIZES

VOCAB = load_builtin_bundle("builtin").vocab


def test_every_synonym_becomes_a_word_the_committed_model_knows() -> None:
    for word, known in SYNONYMS.items():
        assert VOCAB.unknown_words(known) == [], (word, known)


def test_no_synonym_overrides_a_word_of_the_scene_world() -> None:
    scene_words = {*COLORS, *SIZES, *PLURALS.values(), *(w for ws in NOUNS.values() for w in ws)}
    assert not (set(SYNONYMS) & scene_words)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A teal pyramid", "A cyan cone"),
        ("a Light Blue ball and two grey pyramids", "a cyan ball and two gray cones"),
        ("turquoise; TINY orb.", "cyan; small sphere."),
        ("steeple", "steeple"),  # whole words only: no "tee" inside it, nothing else touched
        ("a \u017fteel cube", "a metal cube"),  # the pattern folds case as Unicode does
    ],
)
def test_canonical_caption_maps_whole_words_and_phrases(text: str, expected: str) -> None:
    assert canonical_caption(text) == expected


def test_paraphrases_are_the_table_read_backwards() -> None:
    assert {"teal", "turquoise", "light blue"} <= set(paraphrase_words("cyan"))
    assert paraphrase_words("torus") == ()  # no people's word for it: the generator's own


def test_the_committed_model_reports_words_it_does_not_know_once_each() -> None:
    text = "A teal ball with stripes, with a red cube!"
    assert VOCAB.unknown_words(text) == ["stripes"]  # teal is read as cyan; "with" is known


def test_an_open_vocabulary_reports_only_what_becomes_unk() -> None:
    official = load_text_tokenizer()  # the 30k WordPiece: pieces of a rare word are still read
    assert official.unknown_words("a teal ball with stripes") == []
    assert VOCAB.unknown_words("a ball, sphere-like") == ["like"]  # "-" splits words
    assert official.unknown_words("a red \ua66e ball") == ["\ua66e"]  # a letter it maps to [UNK]


def _by_pattern(text: str) -> str:
    """What the table's one pattern makes of ``text`` (:func:`canonical_caption` without its
    shortcut for captions it cannot change)."""
    return _SYNONYM_PATTERN.sub(_generator_word, text)


def test_the_shortcut_for_captions_without_an_entry_changes_no_caption() -> None:
    scenes = [c for seed in range(40) for c in generate_scene(seed, 32).captions]
    rng = random.Random(0)
    people = [
        " ".join(rng.choice([w, *paraphrase_words(w)]) for w in caption.split(" "))
        for caption in scenes
    ]
    odd = [
        "tube2 and teal_x", "Light  Blue", "light-blue", "TEAL!", "a \u017ftEEL cube",
        "a \u212aube", "ﬁre teal", "ﬂat navy", "sky bluey", "die-cast", "", "   ", "navyblue",
        "Navy\nblue",
    ]  # fmt: skip
    alone = [f"one {entry} here" for entry in SYNONYMS] + [f"{e.title()}." for e in SYNONYMS]
    texts = scenes + people + odd + alone
    assert sum(_by_pattern(t) != t for t in texts) > 40  # the people's words do change
    assert sum(_by_pattern(t) == t for t in scenes) > 0.9 * len(scenes)  # the shortcut's case
    for text in texts:
        assert canonical_caption(text) == _by_pattern(text), text
