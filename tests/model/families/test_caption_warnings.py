"""Caption warnings name only the content words a model cannot read, never function words ("with",
"and", "on the", "near"), in every family that takes captions: the bound built-in model's word
vocabulary, a bundle's closed WordPiece (the ``builtin`` family) and the official open one."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from anyseek.model.families.interface import unknown_word_warnings
from anyseek.model.families.registry import load_search_model
from anyseek.model.fourm.tokenizers.text import SPECIAL_IDS, TextTokenizer, load_text_tokenizer

CAPTION = "a red cube with a blue sphere and a green cone on the left"
GLUE = "a red cube near a blue sphere, under it, and this cone is by the wall"
SCENE_CAPTIONS = ["a red cube and a blue sphere on the left", "a small green cone", "the wall"]


def closed_wordpiece(captions: list[str]) -> TextTokenizer:
    """A WordPiece trained on ``captions`` alone, as a bundle's text tokenizer is."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=list(SPECIAL_IDS))
    tokenizer.train_from_iterator(captions, trainer)
    return TextTokenizer(tokenizer)


def test_the_built_in_model_warns_only_about_content_words() -> None:
    warn = load_search_model("builtin").query_modalities["caption"].warnings
    assert warn(CAPTION) == []
    assert warn(GLUE) == []  # "near", "under", "it", "this", "by": not in its vocabulary
    assert warn(f"{GLUE} with stripes") == ['unknown word "stripes"']


@pytest.mark.parametrize("closed", [True, False])
def test_wordpiece_families_warn_only_about_content_words(closed: bool) -> None:
    """``closed``: the ``builtin`` family's bundles; open: official 4M-21 checkpoints."""
    text = closed_wordpiece(SCENE_CAPTIONS) if closed else load_text_tokenizer()
    assert unknown_word_warnings(text, CAPTION, closed=closed) == []
    assert unknown_word_warnings(text, GLUE, closed=closed) == []
    assert text.unknown_words("near the wall", closed=closed) == (["near"] if closed else [])
    assert unknown_word_warnings(text, "a cube with \ua66e zebra stripes", closed=closed) == (
        ['unknown word "\ua66e"', 'unknown word "zebra"', 'unknown word "stripes"']
        if closed
        else ['unknown word "\ua66e"']  # the open vocabulary reads rare words by their pieces
    )
