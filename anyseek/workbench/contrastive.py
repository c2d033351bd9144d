"""The contrastive loss every training term is built on: symmetric InfoNCE, with extra positives
(a one-object caption fits several scenes) and extra negatives (hard negative captions). Its own
module so that the terms (``cross``, ``train``) import it without importing each other."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    scale: torch.Tensor,
    positives: torch.Tensor | None = None,
    extra: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE of unit rows ``[B, D]``: row i of ``a`` belongs with row i of ``b``,
    and with every j where ``positives[i, j]`` (a one-object caption fits several scenes).
    ``extra`` [K, D] are more rows like ``a``'s that belong with no row of ``b``: hard negatives
    that every row of ``b`` must rank below its own (``anyseek.workbench.negatives``)."""
    logits = scale * a @ b.t()
    if positives is None and extra is None:
        labels = torch.arange(len(a))
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    if positives is None:
        positives = torch.eye(len(a), dtype=torch.bool)
    back, back_positives = logits.t(), positives.t()  # [B, B]: each b against every a
    if extra is not None:
        back = torch.cat([back, scale * b @ extra.t()], 1)  # [B, B + K]
        none = torch.zeros(len(b), len(extra), dtype=torch.bool)
        back_positives = torch.cat([back_positives, none], 1)
    forward = (logits.logsumexp(1) - logits.masked_fill(~positives, -math.inf).logsumexp(1)).mean()
    backward = (
        back.logsumexp(1) - back.masked_fill(~back_positives, -math.inf).logsumexp(1)
    ).mean()
    return (forward + backward) / 2


def one_way_nce(
    a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, positives: torch.Tensor
) -> torch.Tensor:
    """InfoNCE in one direction: each row of ``a`` [A, D] picks among the rows of ``b`` [B, D],
    every j where ``positives[i, j]`` right. Rows of ``a`` that fit many scenes (one object's
    caption) are not asked to rank first among ``b``'s, and ``b``'s rows never pick among them."""
    logits = scale * a @ b.t()  # [A, B]
    right = logits.masked_fill(~positives, -math.inf).logsumexp(1)
    return (logits.logsumexp(1) - right).mean()
