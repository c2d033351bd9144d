"""How search reads a person's sketch and painted segmentation, for the drawings of training and
evaluation: through exactly the transforms the model reading them declares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Readers:
    """A model's sketch and painted-segmentation transforms (picklable: render workers get them)."""

    sketch: Callable[[Any], torch.Tensor]
    semseg: Callable[[Any], torch.Tensor]


def declared_readers(size: int, settings: Mapping[str, Mapping[str, Any]] | None = None) -> Readers:
    """The transforms a new built-in bundle at ``size`` declares
    (``anyseek.model.bundle.definition``),
    with a recipe's ``settings`` (input base -> transform setting -> value) when it has some."""
    from anyseek.model.bundle.declarations import declare, input_transform
    from anyseek.model.bundle.definition import BUILTIN

    declared = declare(BUILTIN.domains_in(size), [], settings=settings)
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


def generator_sketch(readers: Readers) -> Callable[[Any], torch.Tensor] | None:
    """The transform the generator's own sketches are read with for these readers' model: its
    sketch reader when that reads the drawing's content box (training and evaluation then feed
    what search will), else None: the default transform, which gives the same tensor for a
    square page at the model's size, so galleries of other models stay as they were."""
    return readers.sketch if getattr(readers.sketch, "content_box", False) else None
