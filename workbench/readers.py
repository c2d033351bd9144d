"""How search reads a person's sketch and painted segmentation, for the drawings of training and
evaluation: through exactly the transforms the model reading them declares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Readers:
    """A model's sketch and painted-segmentation transforms (picklable: render workers get them)."""

    sketch: Callable[[Any], torch.Tensor]
    semseg: Callable[[Any], torch.Tensor]


def declared_readers(size: int) -> Readers:
    """The transforms a new built-in bundle at ``size`` declares (``model.bundle.definition``)."""
    from model.bundle.declarations import declare, input_transform
    from model.bundle.definition import BUILTIN

    declared = declare(BUILTIN.domains_in(size), [])
    read = {
        t.query: input_transform(t, declared.palette)
        for t in declared.inputs.values()
        if t.query in ("sketch", "semseg")
    }
    return Readers(read["sketch"], read["semseg"])


def model_readers(model: Any) -> Readers:
    """The transforms a loaded search model reads sketches and segmentations with."""
    modalities = model.query_modalities
    return Readers(modalities["sketch"].transform, modalities["semseg"].transform)
