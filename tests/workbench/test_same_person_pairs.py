"""``same_person_pairs``: a person's sketch is paired with the same person's painting of the
scene, so the pair shares one placement of the objects; off, the two come from people drawn
apart, as before."""

from __future__ import annotations

import random

import pytest
import torch

from anyseek.model.builtin.text import WordVocab
from anyseek.model.fourm.imagenet import normalize_images
from anyseek.workbench.cache import ChunkJob, TrainingSet, render_chunk
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher

QUERIES = ("depth", "normal", "semseg", "sketch", "edges")
PEOPLE = ("default", "rough")


@pytest.fixture(scope="module")
def two_people() -> TrainingSet:
    """12 scenes, each drawn by two people."""
    return render_chunk(ChunkJob(6, 0, 12, 64, PEOPLE))


def recipe(same: bool, **changes: object) -> TrainRecipe:
    """Every row a person's drawing, mostly sketches, every row with a second query, no moves."""
    settings: dict = {
        "p_drawn": 1.0, "p_shift": 0.0, "query_weights": {"sketch": 20.0}, "cross_weight": 1.0,
        "cross_second": 1.0, "same_person_pairs": same,
    }  # fmt: skip
    return TrainRecipe(**(settings | changes))


def sketch_and_painting_people(data: TrainingSet, same: bool) -> list[tuple[set, set]]:
    """For each row of a batch whose first query is a sketch and second a painting: the people
    whose drawing of the row's scene each of the two is."""
    vocab = WordVocab.build([c for p in data.scenes.captions for c in p], 64)
    batch = Batcher(data, vocab, recipe(same), QUERIES, random.Random(0)).batch(128)
    images = normalize_images(data.scenes.rgb)
    scene = [int((images == row).flatten(1).all(1).nonzero()[0]) for row in batch["rgb"]]
    sketch_rows, sketch_inputs = batch["groups"]["sketch"]
    sketches = dict(zip(sketch_rows.tolist(), sketch_inputs, strict=True))
    rows, paintings = batch["second"]["semseg"]
    out = []
    for row, painting in zip(rows.tolist(), paintings, strict=True):
        if row not in sketches:
            continue
        i = scene[row]
        drawn = data.drawings
        sketched = {
            p
            for p in PEOPLE
            if torch.equal(sketches[row], drawn[p].sketch[i].float()[None] * 2 - 1)
        }
        painted = {p for p in PEOPLE if torch.equal(painting, drawn[p].semseg[i])}
        out.append((sketched, painted))
    return out


def test_on_a_sketch_and_its_painting_are_one_persons(two_people: TrainingSet) -> None:
    pairs = sketch_and_painting_people(two_people, same=True)
    assert len(pairs) > 50  # nearly every row: a sketch, paired with its painting
    assert all(sketched & painted for sketched, painted in pairs)


def test_off_they_are_drawn_apart(two_people: TrainingSet) -> None:
    pairs = sketch_and_painting_people(two_people, same=False)
    assert pairs and any(not (sketched & painted) for sketched, painted in pairs)


def test_it_needs_the_pair_it_shapes() -> None:
    data = render_chunk(ChunkJob(6, 0, 2, 64, PEOPLE))
    with pytest.raises(ValueError, match="sketch and semseg pair"):
        Batcher(data, None, recipe(True, cross_pairs=(("caption", "depth"),)), QUERIES)
    with pytest.raises(ValueError, match="cross_weight > 0"):
        Batcher(data, None, recipe(True, cross_weight=0.0), QUERIES)
    with pytest.raises(ValueError, match="takes sketches and paintings"):
        Batcher(data, None, recipe(True), ("depth", "normal"))
