"""People's words for the scene world: the synonym table maps each onto a word the built-in
model reads whole, and the committed model's tokenizer reports words it cannot read."""

from __future__ import annotations

import pytest

from model.bundle.loading import BUILTIN_DIR
from model.data.captions import NOUNS, PLURALS
from model.data.scene import COLORS, SIZES
from model.data.synonyms import SYNONYMS, canonical_caption, paraphrase_words
from model.tokenizers.text import load_text_tokenizer

BUILTIN_TEXT = load_text_tokenizer(BUILTIN_DIR / "text_tokenizer.json")


def test_every_synonym_becomes_a_word_the_committed_model_reads_whole() -> None:
    for word, known in SYNONYMS.items():
        assert BUILTIN_TEXT.unknown_words(known, closed=True) == [], (word, known)


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
    ],
)
def test_canonical_caption_maps_whole_words_and_phrases(text: str, expected: str) -> None:
    assert canonical_caption(text) == expected


def test_paraphrases_are_the_table_read_backwards() -> None:
    assert {"teal", "turquoise", "light blue"} <= set(paraphrase_words("cyan"))
    assert paraphrase_words("torus") == ()  # no people's word for it: the generator's own


def test_the_closed_vocabulary_reports_words_it_never_saw_once_each() -> None:
    text = "A teal ball with stripes, with a red cube!"
    assert BUILTIN_TEXT.unknown_words(text, closed=True) == ["teal", "with", "stripes"]
    assert BUILTIN_TEXT.unknown_words(canonical_caption(text), closed=True) == ["with", "stripes"]


def test_known_text_leaves_out_what_the_model_cannot_read() -> None:
    text = canonical_caption("A teal pyramid with stripes!")
    assert BUILTIN_TEXT.known_text(text, closed=True) == "a cyan cone"
    assert BUILTIN_TEXT.encode("a cyan cone") == BUILTIN_TEXT.encode("A cyan cone")


def test_an_open_vocabulary_reports_only_what_becomes_unk() -> None:
    official = load_text_tokenizer()  # the 30k WordPiece: pieces of a rare word are still read
    assert official.unknown_words("a teal ball with stripes") == []
    assert BUILTIN_TEXT.unknown_words("a ball, sphere-like") == []  # "-" is punctuation
    assert official.unknown_words("a red \ua66e ball") == ["\ua66e"]  # a letter it maps to [UNK]
