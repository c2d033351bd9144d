"""Retrieval metrics, caption facts and baselines of ``anyseek eval retrieval``."""

from __future__ import annotations

import pytest
import torch

from anyseek.workbench.metrics import (
    attribute_precision,
    caption_facts,
    edge_matching_similarity,
    fact_matrix,
    first_object,
    random_metrics,
    ranking_metrics,
    satisfies,
)


def test_ranking_metrics_on_known_ranks() -> None:
    # query 0: relevant item ranked 1st; query 1: 2nd; query 2: 7th; query 3: 12th
    sim = torch.zeros(4, 12)
    sim[0, 0] = 1.0
    sim[1, 1], sim[1, 0] = 0.5, 0.9
    sim[2, 2] = 0.5
    sim[2, 3:9] = 0.9
    sim[3, 3] = -1.0
    m = ranking_metrics(sim)
    assert m["R@1"] == pytest.approx(0.25)
    assert m["R@5"] == pytest.approx(0.5)
    assert m["R@10"] == pytest.approx(0.75)
    assert m["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 7 + 1 / 12) / 4)


def test_random_metrics_match_a_shuffled_ranking_on_average() -> None:
    n = 50
    g = torch.Generator().manual_seed(0)
    runs = [ranking_metrics(torch.rand(n, n, generator=g)) for _ in range(40)]
    expected = random_metrics(n)
    for key in ("R@1", "R@10", "MRR"):
        measured = sum(r[key] for r in runs) / len(runs)
        assert measured == pytest.approx(expected[key], abs=0.02)


def test_caption_facts_read_every_attribute_and_synonym() -> None:
    facts = caption_facts("A small red metal cube, a blue ball and a big shiny yellow donut.")
    assert facts == [
        {"size": "small", "color": "red", "material": "metal", "shape": "cube"},
        {"color": "blue", "shape": "sphere"},
        {"size": "large", "material": "metal", "color": "yellow", "shape": "torus"},
    ]


def test_fact_checks_and_attribute_precision() -> None:
    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    blue_ball = {"shape": "sphere", "color": "blue", "size": "large", "material": "matte"}
    scenes = [
        {"objects": [red_cube, blue_ball]},
        {"objects": [red_cube]},
        {"objects": [dict(red_cube, size="large")]},
    ]
    assert satisfies(scenes[0], caption_facts("a small red cube and a blue ball"))
    assert not satisfies(scenes[1], caption_facts("a small red cube and a blue ball"))
    assert not satisfies(scenes[2], caption_facts("a small red cube"))
    facts = fact_matrix(["a red cube", "a blue sphere"], scenes)
    assert facts.tolist() == [[True, True, True], [True, False, False]]
    sim = torch.tensor([[0.9, 0.5, 0.1], [0.1, 0.9, 0.5]])
    assert attribute_precision(sim, facts, k=2) == pytest.approx((1.0 + 0.0) / 2)


def test_the_fact_matrix_is_satisfies_asked_of_every_pair() -> None:
    """On generated scenes, their own captions (every phrasing), one-object captions, a
    caption stating nothing and one with a value no scene has, and a scene with no objects."""
    from anyseek.scenes.sample import generate_batch
    from anyseek.scenes.tensors import scene_facts

    samples = generate_batch(list(range(40)), 32)
    scenes = [scene_facts(s) for s in samples] + [{"objects": []}]
    captions = [c for s in samples[:10] for c in s.captions]
    captions += [first_object(s.captions[0]) for s in samples]
    captions += ["a photo", "a small red metal cube", "a golden cube", ""]
    facts = fact_matrix(captions, scenes)
    expected = [[satisfies(s, caption_facts(c)) for s in scenes] for c in captions]
    assert facts.tolist() == expected
    assert 0 < int(facts.sum()) < facts.numel()  # neither everything nor nothing fits


def test_edge_baseline_finds_a_sketch_drawn_on_the_image_edges() -> None:
    g = torch.Generator().manual_seed(0)
    rgb = torch.zeros(5, 3, 32, 32, dtype=torch.uint8)
    for i in range(5):  # a bright rectangle at a different place in each image
        r, c = torch.randint(2, 16, (2,), generator=g).tolist()
        rgb[i, :, r : r + 12, c : c + 12] = 255
    from skimage.feature import canny

    sketches = torch.stack(
        [torch.from_numpy(canny(img.float().mean(0).numpy() / 255)) for img in rgb]
    )
    sim = edge_matching_similarity(sketches, rgb)
    assert torch.equal(sim.argmax(1), torch.arange(5))
