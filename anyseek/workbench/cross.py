"""Pairs without the image: contrastive terms between two non-rgb modalities of the same scenes.

The base loss pulls every query modality to its scene's image vector, so a caption and a depth
map of one scene meet only through the image: any-to-any search from a caption to a depth map,
a segmentation or a sketch (``lab/results/any_to_any.md``) is as good as what emerges there.
This adds InfoNCE between the modalities themselves. A training row already shows its caption
and one pixel query, so caption pairs cost nothing more; a pixel pair (a sketch and a depth map)
needs a second pixel query on the row, drawn from the listed partners of its first for a
``cross_second`` share of rows (one more pass of those rows through the trunk).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyseek.workbench.contrastive import info_nce
from anyseek.workbench.twins import twin_shown

CAPTION = "caption"
Pair = tuple[str, str]


def cross_modalities() -> tuple[str, ...]:
    """What a pair may name: the caption and every pixel query modality (not the image)."""
    from anyseek.scenes.tensors import PIXEL_INPUTS

    return (CAPTION, *(q for q in PIXEL_INPUTS if q != "rgb"))


def check_cross_pairs(pairs: Sequence[Sequence[str]]) -> tuple[Pair, ...]:
    """The recipe's pairs as sorted tuples; a ValueError names a pair of unknown modalities, of
    one modality twice, or not two long."""
    known = cross_modalities()
    out = []
    for pair in pairs:
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"cross_pairs: {pair!r} is not a pair of two modalities")
        unknown = sorted(set(pair) - set(known))
        if unknown:
            raise ValueError(f"cross_pairs: unknown modalities {unknown}; known: {list(known)}")
        if pair[0] == pair[1]:
            raise ValueError(f"cross_pairs: {list(pair)} pairs a modality with itself")
        out.append((str(pair[0]), str(pair[1])))
    return tuple(out)


def pairs_of(listed: Sequence[Pair], queries: Sequence[str]) -> tuple[Pair, ...]:
    """The pairs trained among ``queries`` (the model's pixel queries) and the caption: those
    listed whose modalities the model takes, or, when none is listed, every pair."""
    names = (CAPTION, *queries)
    if not listed:
        return tuple((a, b) for i, a in enumerate(names) for b in names[i + 1 :])
    return tuple((a, b) for a, b in listed if a in names and b in names)


def partners(pairs: Sequence[Pair], queries: Sequence[str]) -> list[list[int]]:
    """For each pixel query (by index into ``queries``), the pixel queries it is paired with."""
    out: list[list[int]] = [[] for _ in queries]
    for a, b in pairs:
        if a in queries and b in queries:
            out[queries.index(a)].append(queries.index(b))
            out[queries.index(b)].append(queries.index(a))
    return out


def second_kinds(
    first: torch.Tensor, pairs: Sequence[Pair], queries: Sequence[str], share: float
) -> torch.Tensor:
    """[B] index into ``queries`` of each row's second pixel query, -1 for none: a ``share`` of
    the rows whose first query has a pixel partner get one of its partners, at random."""
    links = partners(pairs, queries)
    out = torch.full_like(first, -1)
    if not any(links) or share <= 0:
        return out
    roll = torch.rand(len(first))
    pick = torch.rand(len(first))
    for row, kind in enumerate(first.tolist()):
        options = links[kind]
        if options and roll[row] < share:
            out[row] = options[int(pick[row] * len(options))]
    return out


def modality_rows(
    texts: torch.Tensor, shown: Sequence[tuple[dict[str, Any], torch.Tensor]]
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Modality -> ([B, D] its vector on each row that shows it, zero elsewhere; [B] bool: which
    rows): the captions ``texts`` [B, D] on every row, then each (groups, vectors) of ``shown``:
    a batch's pixel query groups (modality -> (rows, inputs)) and their vectors concatenated in
    the groups' order, as ``BuiltinModel.embed_mixed`` returns them. A modality may be the first
    query of some rows and the second of others; a row never shows it twice."""
    size = len(texts)
    out = {CAPTION: (texts, torch.ones(size, dtype=torch.bool))}
    for groups, vectors in shown:
        start = 0
        for name, (rows, _) in groups.items():
            part = vectors[start : start + len(rows)]
            start += len(rows)
            placed = vectors.new_zeros(size, vectors.shape[1]).index_copy(0, rows, part)
            has = torch.zeros(size, dtype=torch.bool)
            has[rows] = True
            if name in out:
                placed, has = out[name][0] + placed, out[name][1] | has
            out[name] = (placed, has)
    return out


def cross_loss(
    per_modality: dict[str, tuple[torch.Tensor, torch.Tensor]],
    pairs: Sequence[Pair],
    scale: torch.Tensor,
    positives: torch.Tensor | None = None,
    same: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """Mean symmetric InfoNCE over the pairs, each over the rows that show both of its
    modalities (at least two); None when no pair has two rows. ``positives`` [B, B]: which
    scenes each row's caption fits (a one-object caption fits several); ``same`` [B, B]: which
    rows show one scene (``anyseek.workbench.twins``), right for a pixel pair too."""
    terms = []
    for a, b in pairs:
        if a not in per_modality or b not in per_modality:
            continue
        (va, ha), (vb, hb) = per_modality[a], per_modality[b]
        rows = (ha & hb).nonzero().flatten()
        if len(rows) < 2:
            continue
        fit = None
        if positives is not None and CAPTION in (a, b):
            fit = positives[rows][:, rows]
            fit = fit if a == CAPTION else fit.t()
        elif same is not None:
            fit = same[rows][:, rows]
        terms.append(info_nce(va[rows].float(), vb[rows].float(), scale, fit))
    return torch.stack(terms).mean() if terms else None


def batch_cross_loss(
    batch: dict[str, Any],
    queries: torch.Tensor,
    second: torch.Tensor | None,
    texts: torch.Tensor,
    scale: torch.Tensor,
    listed: Sequence[Pair],
) -> torch.Tensor | None:
    """The cross-pair loss of a training batch (``anyseek.workbench.train``): each row's caption
    ``texts`` [B, D], first and second pixel query (with twin rows, its twin's first), paired as
    ``listed`` (a recipe's ``cross_pairs``; empty: every pair)."""
    shown = [(batch["groups"], queries)]
    if second is not None:
        shown.append((batch["second"], second))
    if batch.get("same") is not None:  # twin rows: each row's twin's query is its second
        shown.append(twin_shown(batch["groups"], queries))
    pairs = pairs_of(listed, cross_modalities()[1:])
    per_modality = modality_rows(texts, shown)
    return cross_loss(per_modality, pairs, scale, batch.get("positives"), batch.get("same"))
