"""Partial captions: scene captions with words left out, as everyday words reach the model."""

from __future__ import annotations

import random

from anyseek.scenes.captions import object_phrases
from anyseek.workbench.partial import partial_caption
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import OBJECT, Batcher

QUERIES = ("depth", "sketch")


def test_words_are_left_out_in_order_and_one_is_always_kept() -> None:
    caption = "a large red metal cube left of a small blue matte sphere"
    rng = random.Random(0)
    kept = [partial_caption(caption, 0.4, rng) for _ in range(200)]
    words = caption.split()
    for text in kept:
        said = text.split()
        assert said, "a partial caption keeps a word"
        positions = [words.index(w) for w in said if w not in ("a",)]
        assert positions == sorted(positions)  # the words keep their order
    mean_share = sum(len(t.split()) for t in kept) / (200 * len(words))
    assert 0.5 < mean_share < 0.7  # about 0.6 of the words stay at drop 0.4
    assert partial_caption(caption, 1.0, random.Random(1)).split()[0] in words
    assert partial_caption(caption, 0.0, random.Random(1)) == caption


def test_off_no_caption_changes_and_on_only_scene_captions_lose_words(
    tiny_training: tuple,
) -> None:
    data, _, vocab = tiny_training
    plain = Batcher(data, vocab, TrainRecipe(p_object_caption=0.3), QUERIES, random.Random(0))
    full = [plain.caption(i % len(data)) for i in range(200)]
    on = TrainRecipe(p_object_caption=0.3, p_partial_caption=1.0, partial_drop=0.5)
    batcher = Batcher(data, vocab, on, QUERIES, random.Random(0))
    texts = [batcher.caption(i % len(data)) for i in range(200)]
    objects = [t for t in texts if t.startswith(OBJECT)]
    scenes = [t for t in texts if not t.startswith(OBJECT)]
    assert objects and scenes
    whole = {t for t in full if not t.startswith(OBJECT)}
    # every one-object row is a whole phrase of some scene; scene captions lose words
    phrases = {p for i in range(len(data)) for p in object_phrases(data.scenes.captions[i][0])}
    assert all(o.removeprefix(OBJECT) in phrases for o in objects)
    shorter = sum(t not in whole for t in scenes)
    assert shorter > 0.8 * len(scenes)
    assert all(len(t.split()) >= 1 for t in scenes)


def test_off_the_lever_draws_nothing_so_recipes_without_it_see_the_same_captions(
    tiny_training: tuple,
) -> None:
    data, _, vocab = tiny_training
    recipe = TrainRecipe(p_object_caption=0.3)
    batcher = Batcher(data, vocab, recipe, QUERIES, random.Random(5))
    picked = Batcher(data, vocab, recipe, QUERIES, random.Random(5))
    texts = [batcher.caption(i % len(data)) for i in range(100)]
    assert texts == [picked._caption(i % len(data)) for i in range(100)]
