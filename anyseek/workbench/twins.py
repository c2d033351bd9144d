"""Twin rows: each scene of a batch on two neighbouring rows, for a cheaper step.

A batch of B rows shows B / 2 scenes, rows 2k and 2k + 1 the same one, each row with its own
pixel query, person and caption. The image tower then runs on B / 2 images, not B, and the two
rows' pixel queries of one scene are a cross pair (``anyseek.workbench.cross``) without the
second pass through the trunk that ``cross_second`` pays for: the costliest parts of a step
(``lab/results/step_profile.md``). Every loss sees a scene's image on both its rows and counts
the other row of the scene right (``same_scene``), so no query is told its own scene is wrong.
"""

from __future__ import annotations

from typing import Any

import torch


def twin_index(scenes: int, size: int) -> torch.Tensor:
    """[size] scene of each row: ``size // 2`` scenes drawn from ``scenes``, each on two
    neighbouring rows (``size`` even)."""
    return torch.randint(scenes, (size // 2,)).repeat_interleave(2)


def same_scene(index: torch.Tensor) -> torch.Tensor:
    """[B, B] bool: rows i and j show the same scene."""
    return index[:, None] == index[None, :]


def image_rows(size: int) -> torch.Tensor:
    """[size] which of the ``size // 2`` embedded images each row of a twin batch shows."""
    return torch.arange(size // 2).repeat_interleave(2)


def twin_shown(
    groups: dict[str, Any], vectors: torch.Tensor
) -> tuple[dict[str, tuple[torch.Tensor, None]], torch.Tensor]:
    """Each row's first pixel query shown on its twin (row r's twin is r ^ 1), as a second
    query for ``anyseek.workbench.cross.modality_rows``: ``groups`` (modality -> (rows, inputs))
    and their ``vectors`` in the groups' order, as ``BuiltinModel.embed_mixed`` returns them.
    A twin whose own first query is of the same modality is left out: no row shows a modality
    twice."""
    first = {row: name for name, (rows, _) in groups.items() for row in rows.tolist()}
    shown: dict[str, tuple[torch.Tensor, None]] = {}
    parts, start = [], 0
    for name, (rows, _) in groups.items():
        part = vectors[start : start + len(rows)]
        start += len(rows)
        twins = rows ^ 1
        keep = torch.tensor([first.get(t) != name for t in twins.tolist()], dtype=torch.bool)
        if keep.any():
            shown[name] = (twins[keep], None)
            parts.append(part[keep])
    return shown, torch.cat(parts) if parts else vectors[:0]


def check_twin_rows(batch: int, cross_second: float, same_person_pairs: bool) -> None:
    """A ValueError where twin rows cannot work or would pay twice for their pairs."""
    if batch < 4 or batch % 2:
        raise ValueError(f"twin_rows needs an even batch of 4 or more, got {batch}")
    if cross_second > 0:
        raise ValueError(
            "twin_rows shows every row its twin's query as a second: set cross_second to 0"
        )
    if same_person_pairs:
        raise ValueError("same_person_pairs needs second queries, which twin_rows replaces")


__all__ = ["check_twin_rows", "image_rows", "same_scene", "twin_index", "twin_shown"]
