"""Fusion across embedding spaces: information weighting, user weights, and refusals."""

from __future__ import annotations

import math

import pytest
import torch

from anyseek.model.fourm.inference.predict import token_information
from anyseek.model.runtime.fusion import FusionError, fuse, fusion_weights


def test_information_is_the_divergence_from_the_prior() -> None:
    vocab = 64
    certain = torch.nn.functional.one_hot(torch.arange(16) % 8, vocab).float()[None]
    uniform = torch.full((1, 16, vocab), 1 / vocab)
    half = torch.zeros(1, 16, vocab)
    half[..., :8] = 1 / 8
    probs = torch.cat([certain, uniform, half])
    # without a prior: against the uniform distribution, log V minus the entropy
    expected = torch.tensor([math.log(64), 0.0, math.log(64) - math.log(8)])
    torch.testing.assert_close(token_information(probs), expected)
    # a prediction that only repeats the space's prior says nothing, however peaked it is
    prior = half[0]
    got = token_information(probs, prior)
    assert got[2].item() == pytest.approx(0.0, abs=1e-6)
    assert got[1].item() > 0 and got[0].item() == pytest.approx(math.log(8), rel=1e-5)


def test_equal_information_gives_the_mean_and_an_informed_space_dominates() -> None:
    a = torch.tensor([[0.9, 0.1, 0.2]])
    b = torch.tensor([[0.1, 0.8, 0.3]])
    sims = {"clip": a, "dino": b}
    same = {"clip": torch.tensor([0.4]), "dino": torch.tensor([0.4])}
    torch.testing.assert_close(fuse(sims, same), (a + b) / 2)
    torch.testing.assert_close(fuse(sims), (a + b) / 2)
    sure_dino = {"clip": torch.tensor([0.05]), "dino": torch.tensor([0.5])}
    assert fuse(sims, sure_dino).argmax().item() == 1  # the confident space decides
    w = fusion_weights(sure_dino)
    assert math.isclose(w["dino"].item(), 100 / 101, rel_tol=1e-6)  # (0.5 / 0.05) ** 2 : 1


def test_weights_are_per_query_and_user_weights_scale_them() -> None:
    information = {"clip": torch.tensor([0.5, 0.1]), "dino": torch.tensor([0.1, 0.5])}
    w = fusion_weights(information)
    assert w["clip"][0] > w["dino"][0] and w["clip"][1] < w["dino"][1]
    torch.testing.assert_close(w["clip"] + w["dino"], torch.ones(2))
    only_dino = fusion_weights(information, weights={"clip": 0.0})
    torch.testing.assert_close(only_dino["dino"], torch.ones(2))


@pytest.mark.parametrize(
    ("sims", "information", "weights", "message"),
    [
        ({}, None, None, "no spaces"),
        ({"a": torch.zeros(2, 3), "b": torch.zeros(2, 4)}, None, None, r"\[Q, N\]"),
        ({"a": torch.zeros(2, 3)}, {"b": torch.ones(2)}, None, "information for"),
        ({"a": torch.zeros(2, 3)}, {"a": torch.ones(3)}, None, r"\[Q\]"),
        ({"a": torch.zeros(2, 3)}, None, {"c": 1.0}, "no score in"),
        ({"a": torch.zeros(2, 3)}, None, {"a": -1.0}, ">= 0"),
        ({"a": torch.zeros(2, 3)}, None, {"a": 0.0}, "not all 0"),
    ],
)
def test_mismatched_inputs_are_refused_with_a_reason(sims, information, weights, message) -> None:
    with pytest.raises(FusionError, match=message):
        fuse(sims, information, weights=weights)
