"""The cell head: which objects each cell of the image trunk's last grid holds, and its loss."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from anyseek.workbench.cells import CELL_PIXELS, MIN_PIXELS, cell_labels, cell_loss, occupancy
from anyseek.workbench.presence import encode_scenes
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher


def test_an_object_occupies_the_cells_its_pixels_cover() -> None:
    from anyseek.scenes.sample import generate_scene

    sample = generate_scene(11, 64)
    cells = occupancy(sample)
    seen = [v for v in sample.objects if v.mentionable]
    assert cells.shape == (6, 16) and len(seen) >= 2
    for m, view in enumerate(seen):
        mask = sample.instance == view.index + 1
        counts = mask.reshape(4, CELL_PIXELS, 4, CELL_PIXELS).sum((1, 3)).ravel()
        expected = counts >= MIN_PIXELS
        expected[int(np.argmax(counts))] = True  # a small object is still somewhere
        assert cells[m].tolist() == expected.tolist()
    assert not cells[len(seen) :].any()  # rows past the scene's objects are empty


def test_cell_labels_bind_each_objects_attributes_to_its_own_cells() -> None:
    from anyseek.scenes.scene import COLORS, SHAPES

    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    black_torus = {"shape": "torus", "color": "black", "size": "large", "material": "matte"}
    objects = encode_scenes([{"objects": [red_cube, black_torus]}])
    occupied = torch.zeros(1, 6, 16, dtype=torch.bool)
    occupied[0, 0, [0, 1]] = True  # the red cube spans cells 0 and 1
    occupied[0, 1, [1, 5]] = True  # the black torus cells 1 and 5
    labels = cell_labels(objects, occupied)
    assert labels.shape == (1, 540, 16)
    colors = list(COLORS)
    red_cube_pair = SHAPES.index("cube") * len(colors) + colors.index("red")
    black_torus_pair = SHAPES.index("torus") * len(colors) + colors.index("black")
    red_torus_pair = SHAPES.index("torus") * len(colors) + colors.index("red")
    assert labels[0, red_cube_pair].nonzero().flatten().tolist() == [0, 1]
    assert labels[0, black_torus_pair].nonzero().flatten().tolist() == [1, 5]
    assert not labels[0, red_torus_pair].any()  # cell 1 has red and a torus, not a red torus
    assert labels[0].sum(0).tolist()[:6] == [4.0, 8.0, 0.0, 0.0, 0.0, 4.0]  # 4 blocks an object


def test_the_cell_loss_rewards_logits_that_follow_the_labels_and_names_a_grid_mismatch() -> None:
    labels = (torch.rand(2, 540, 16) < 0.02).float()
    assert cell_loss(8 * labels - 4, labels) < cell_loss(4 - 8 * labels, labels)
    with pytest.raises(ValueError, match="16 cells but the scenes were rendered into 4"):
        cell_loss(torch.zeros(2, 540, 16), torch.zeros(2, 540, 4))


def test_rendered_chunks_keep_the_cells_and_a_set_without_them_is_refused_by_name(
    tiny_training: tuple,
) -> None:
    from anyseek.workbench.cache import TrainingSet

    data, _, vocab = tiny_training
    assert data.occupied is not None and data.occupied.shape == (16, 6, 16)
    assert data.occupied.any(-1).sum() == sum(len(s["objects"]) for s in data.scenes.scenes)
    old = TrainingSet(data.scenes, data.drawings)  # as chunks rendered before cells were kept
    with pytest.raises(ValueError, match="render it again"):
        Batcher(old, vocab, TrainRecipe(cell_weight=1.0), ("sketch",), random.Random(0))
