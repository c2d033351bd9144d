"""Which objects each cell of the image trunk's last grid holds: grid supervision, training only.

The image vector of the shipped model reads a scene as a bag of attributes: a linear probe of it
finds "a red cube" no better than the captions do (``lab/results/object_binding.md``), and a
head that asks the *vector* which objects the scene has memorised its training scenes
(``anyseek.workbench.attributes``). This asks earlier and more locally: a 1x1 classifier on each
cell of the image trunk's last grid (4x4 at 64 px) says which (shape, colour[, size][, material])
conjunctions of the objects drawn in that cell it sees. A cell holds one to three objects, not a
scene, so there is far less to memorise, and a cell whose channels say "red cube" is one the max
over the grid and the flattened grid hand to the head as one object. The head is not part of the
served model.

Where an object is comes from the renderer's instance map: it occupies a cell when it covers at
least ``MIN_PIXELS`` of it, or when that cell holds most of it (a small object is never in none).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from anyseek.scenes.scene import MAX_OBJECTS
from anyseek.workbench.attributes import (
    CONJUNCTIONS,
    attribute_loss,
    conjunction_index,
    label_count,
)

CELL_PIXELS = 16  # side of one cell of the trunk's last grid, in input pixels (4 halvings)
MIN_PIXELS = 8  # an object occupies a cell where it covers at least this many of its pixels
PRIOR = 0.02  # the head's bias starts at this rate of presence (a cell has ~2 of 540 labels)


def occupancy(sample: Any) -> torch.Tensor:
    """One generated scene (``anyseek.scenes.sample.SceneSample``) -> [MAX_OBJECTS, G * G] bool:
    which cells each of its mentionable objects occupies, in the order of its scene facts
    (``anyseek.scenes.tensors.scene_facts``); rows past its objects are False."""
    grid = sample.size // CELL_PIXELS
    out = torch.zeros(MAX_OBJECTS, grid * grid, dtype=torch.bool)
    instance = torch.from_numpy(sample.instance.astype("int64"))
    seen = [v for v in sample.objects if v.mentionable]
    for m, view in enumerate(seen[:MAX_OBJECTS]):
        mask = (instance == view.index + 1).float()[None, None]  # [1, 1, S, S]
        counts = F.avg_pool2d(mask, CELL_PIXELS).flatten() * CELL_PIXELS**2  # [G * G]
        out[m] = counts >= MIN_PIXELS
        out[m, int(counts.argmax())] = True
    return out


def cell_labels(objects: torch.Tensor, occupied: torch.Tensor) -> torch.Tensor:
    """Objects' codes [B, M, 4] (``anyseek.workbench.presence.encode_scenes``; padding negative) and
    their cells [B, MAX_OBJECTS, C] -> [B, L, C] float multi-hot: cell c holds an object with
    conjunction l (the blocks of ``anyseek.workbench.attributes.CONJUNCTIONS``)."""
    codes = objects.long()
    m = min(codes.shape[1], occupied.shape[1])
    codes, occupied = codes[:, :m], occupied[:, :m]
    real = (codes >= 0).all(-1)  # [B, M]
    b, cells = len(codes), occupied.shape[-1]
    labels = torch.zeros(b, label_count(), cells)
    where = occupied & real[..., None]  # [B, M, C]
    scene, obj, cell = where.nonzero(as_tuple=True)
    for group in CONJUNCTIONS:
        labels[scene, conjunction_index(group, codes)[scene, obj], cell] = 1.0
    return labels


class CellHead(nn.Module):
    """A 1x1 classifier of the image trunk's last grid [B, C, G, G] -> logits [B, L, G * G]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, label_count(), 1)
        nn.init.constant_(self.conv.bias, math.log(PRIOR / (1 - PRIOR)))

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        """[B, C, G, G] -> [B, L, G * G]."""
        return self.conv(grid.float()).flatten(2)


def cell_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sigmoid loss summed over labels, averaged over scenes, cells and conjunction blocks."""
    if logits.shape != labels.shape:
        raise ValueError(
            f"the trunk's grid gives {logits.shape[-1]} cells but the scenes were rendered into "
            f"{labels.shape[-1]} ({CELL_PIXELS}-pixel cells): the model's image_size over "
            f"2 ** len(widths) must be the rendered size over {CELL_PIXELS}"
        )
    rows = logits.transpose(1, 2).flatten(0, 1), labels.transpose(1, 2).flatten(0, 1)
    return attribute_loss(*rows)  # every cell a row of labels, as a scene is for the vector's
