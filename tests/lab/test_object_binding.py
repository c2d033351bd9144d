"""lab/object_binding.py: a bag of attributes scores high alone and low on the whole object."""

from __future__ import annotations

import torch

from anyseek.workbench.attributes import conjunction_labels, label_of
from anyseek.workbench.presence import encode_scenes
from lab.object_binding import binding_row, fit_probe, probe_precision


def test_a_scene_with_red_and_a_cube_but_no_red_cube_counts_alone_not_bound() -> None:
    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    red_ball = {"shape": "sphere", "color": "red", "size": "large", "material": "matte"}
    blue_cube = {"shape": "cube", "color": "blue", "size": "small", "material": "matte"}
    scenes = [{"objects": [red_cube]}, {"objects": [red_ball, blue_cube]}]
    facts = [{"shape": "cube", "color": "red"}]  # "A red cube." states no size or material
    row = binding_row(torch.tensor([[0, 1]]), facts, scenes)
    assert row["shape"] == row["color"] == 1.0  # both hits have some cube and something red
    assert row["shape+color"] == row["whole object (attr_P@10)"] == 0.5  # one has a red cube
    assert row["size"] == row["material"] == 0.0  # unstated: not counted, not credited


def test_a_probe_finds_the_whole_object_where_the_image_vectors_carry_it() -> None:
    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    red_ball = {"shape": "sphere", "color": "red", "size": "large", "material": "matte"}
    blue_cube = {"shape": "cube", "color": "blue", "size": "small", "material": "matte"}
    torch.manual_seed(0)
    scenes = [{"objects": [red_cube]}] * 20 + [{"objects": [red_ball, blue_cube]}] * 20
    labels = conjunction_labels(encode_scenes(scenes))
    noise = torch.randn(40, 16) * 0.1
    carries = torch.nn.functional.normalize(noise + labels[:, [label_of(red_cube)]], dim=1)
    probe = fit_probe(carries, labels, steps=200)
    facts = [{"shape": "cube", "color": "red"}]
    assert probe_precision(probe, carries, facts, scenes) == 1.0  # the red cubes first
    blind = torch.nn.functional.normalize(noise, dim=1)  # vectors that carry nothing
    assert probe_precision(fit_probe(blind, labels, steps=200), blind, facts, scenes) < 1.0


def test_an_image_at_its_own_caption_prefers_it_to_the_binding_negative() -> None:
    from anyseek.model.service import load_search_model
    from lab.object_binding import caption_vectors, prefers_own

    model = load_search_model("builtin", device="cpu")
    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    blue_ball = {"shape": "sphere", "color": "blue", "size": "large", "material": "matte"}
    scenes = [{"objects": [red_cube, blue_ball]}, {"objects": [red_cube]}]
    texts = ["A red cube and a blue ball.", "A small red cube."]
    at_own = caption_vectors(model, texts)  # "images" that are exactly their captions' vectors
    assert at_own.shape[0] == 2
    assert prefers_own(model, at_own, texts, scenes, seed=0) == 1.0
    assert prefers_own(model, -at_own, texts, scenes, seed=0) == 0.0  # farthest from their own
