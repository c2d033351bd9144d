"""The 4M multimodal masking objective: per sample, Dirichlet-sampled input and target budgets.

For every sample a fixed number of input tokens (``input_budget``) is spread over the input
modalities with proportions drawn from a symmetric Dirichlet(``alpha``); a small alpha puts most of
the budget on one or two modalities, which is what makes any subset of inputs work at inference.
The target budget is spread over the target modalities the same way, and a token is never both
input and target. With probability ``p_full_single`` a sample instead shows one whole input
modality, exactly the way a retrieval query looks at inference.

Masks use the official convention: ``input_mask`` True = hidden from the encoder; ``target_mask``
False = to be predicted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from anyseek.errors import AnyseekError


@dataclass(frozen=True)
class MaskingConfig:
    """Token budgets and the Dirichlet concentration of the 4M masking sampler."""

    input_budget: int = 64
    target_budget: int = 32
    alpha: float = 0.5
    p_full_single: float = 0.3


@dataclass
class ModalityMasks:
    """Which tokens of one modality are encoder inputs and which are decoder targets."""

    input_mask: torch.Tensor  # [B, N] bool, True = not given to the encoder
    target_mask: torch.Tensor  # [B, N] bool, False = predicted by the decoder


def _allocate(
    budget: int, available: torch.Tensor, alpha: float, generator: torch.Generator
) -> torch.Tensor:
    """Split ``budget`` tokens over modalities by Dirichlet proportions, capped at what exists.

    available: [B, M] token counts; returns [B, M] integer counts with sum <= budget per sample.
    Budget a modality cannot use is handed to the others in a few redistribution rounds.
    """
    gamma = torch._standard_gamma(torch.full(available.shape, alpha), generator=generator)
    weights = (gamma + 1e-12) * (available > 0)
    counts = torch.zeros_like(available)
    remaining = torch.full((available.shape[0],), budget, dtype=available.dtype)
    for _ in range(available.shape[1]):
        free = (available - counts).clamp(min=0)
        w = weights * (free > 0)
        total = w.sum(1, keepdim=True)
        share = torch.where(total > 0, w / total.clamp(min=1e-12), torch.zeros_like(w))
        extra = torch.minimum((share * remaining[:, None]).floor().long(), free)
        counts = counts + extra
        remaining = budget - counts.sum(1)
        if not bool((remaining > 0).any()) or not bool((extra.sum(1) > 0).any()):
            break
    # hand out the last few rounding leftovers one by one to the heaviest free modality
    for _ in range(int(remaining.max().clamp(min=0))):
        free = (available - counts).clamp(min=0)
        pick = (weights * (free > 0) + (free > 0) * 1e-9).argmax(1)
        give = (remaining > 0) & (free.gather(1, pick[:, None])[:, 0] > 0)
        counts[torch.arange(len(pick)), pick] += give.long()
        remaining = remaining - give.long()
    return counts


def _random_ranks(valid: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random rank of every valid token within its row; invalid tokens rank last."""
    noise = torch.rand(valid.shape, generator=generator)
    noise = torch.where(valid, noise, torch.full_like(noise, 2.0))
    return noise.argsort(1).argsort(1)


def _prefix_ranks(valid: torch.Tensor) -> torch.Tensor:
    """Rank = position for valid tokens (so budgets take a prefix); invalid tokens rank last."""
    position = torch.arange(valid.shape[1]).expand_as(valid)
    return torch.where(valid, position, valid.shape[1] + position)


def sample_masks(
    valid: dict[str, torch.Tensor],
    inputs: list[str],
    targets: list[str],
    config: MaskingConfig,
    generator: torch.Generator,
    ordered: tuple[str, ...] = (),
) -> dict[str, ModalityMasks]:
    """Draw input and target masks for every modality of a batch.

    valid: modality -> [B, N] bool, which tokens exist (e.g. caption tokens before padding).
    A modality may be in both ``inputs`` and ``targets``; its tokens are then split between them.
    Modalities in ``ordered`` (captions) give a prefix instead of a random subset, so a partly
    shown caption still reads as text.
    """
    unknown = [m for m in (*inputs, *targets) if m not in valid]
    if unknown:
        raise AnyseekError(f"masking: no tokens given for modalities {unknown}")
    batch = next(iter(valid.values())).shape[0]
    ranks = {
        name: _prefix_ranks(v) if name in ordered else _random_ranks(v, generator)
        for name, v in valid.items()
    }
    counts_of = {name: v.sum(1) for name, v in valid.items()}

    available_in = torch.stack([counts_of[m] for m in inputs], 1)
    n_in = _allocate(config.input_budget, available_in, config.alpha, generator)
    full = torch.rand(batch, generator=generator) < config.p_full_single
    if bool(full.any()):
        choice = torch.multinomial((available_in > 0).float() + 1e-9, 1, generator=generator)[:, 0]
        one_hot = torch.nn.functional.one_hot(choice, len(inputs)).bool()
        n_in = torch.where(full[:, None], torch.where(one_hot, available_in, 0), n_in)

    masks: dict[str, ModalityMasks] = {}
    for j, name in enumerate(inputs):
        given = ranks[name] < n_in[:, j : j + 1]
        masks[name] = ModalityMasks(input_mask=~given, target_mask=torch.ones_like(given))

    # targets: tokens not already given as input, ranked after the input ones
    left = {
        m: counts_of[m] - (~masks[m].input_mask).sum(1) if m in masks else counts_of[m]
        for m in targets
    }
    available_out = torch.stack([left[m] for m in targets], 1)
    n_out = _allocate(config.target_budget, available_out, config.alpha, generator)
    for j, name in enumerate(targets):
        used = (~masks[name].input_mask).sum(1, keepdim=True) if name in masks else 0
        predicted = (ranks[name] >= used) & (ranks[name] < used + n_out[:, j : j + 1])
        predicted &= valid[name]
        if name in masks:
            masks[name].target_mask = ~predicted
        else:
            masks[name] = ModalityMasks(
                input_mask=torch.ones_like(predicted), target_mask=~predicted
            )
    return masks
