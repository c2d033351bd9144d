"""One check every model family's test runs: ANYSEEK_MODEL__PRECISION is honoured and said."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from anyseek.model.families.registry import load_search_model
from anyseek.model.service import model_identity
from anyseek.settings import ModelSettings


def check_precision_honoured(
    settings: ModelSettings, images: Sequence[Any], min_cosine: float = 0.98
) -> None:
    """Loaded with precision float32 and bfloat16 (forced, whatever this CPU would choose), the
    model says which it is, in its identity too (the same identity: vectors compare); its gallery
    vectors differ slightly between the two (cosine above ``min_cosine``), and its queries,
    computed outside, do not."""
    exact = load_search_model(settings.model_copy(update={"precision": "float32"}))
    half = load_search_model(settings.model_copy(update={"precision": "bfloat16"}))
    assert (exact.precision, half.precision) == ("float32", "bfloat16")
    assert model_identity(half).precision == "bfloat16"
    assert model_identity(half) == model_identity(exact)
    batch = torch.stack([exact.image_input(image) for image in images])
    a, b = exact.embed_images(batch), half.embed_images(batch)
    assert a.keys() == b.keys()
    for space in a:
        assert a[space].dtype == b[space].dtype == np.float32
        assert not np.array_equal(a[space], b[space]), f"{space}: bfloat16 did not run"
        cosine = (a[space] * b[space]).sum(1) / (
            np.linalg.norm(a[space], axis=1) * np.linalg.norm(b[space], axis=1)
        )
        assert cosine.min() > min_cosine, f"{space}: bfloat16 moved vectors ({cosine.min()})"
    query = {"image": batch[0]}
    for space, found in exact.embed_query(query).items():
        np.testing.assert_array_equal(found.vector, half.embed_query(query)[space].vector)
