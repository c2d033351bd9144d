"""Relevance: a hit's calibrated probability of being what the query describes, in [0, 1].

Fused cosines mean different things per query kind (a caption's right answer scores lower than a
sketch's), so no one minimum score fits every query. A model may ship a calibration (the built-in
bundle's ``relevance.json``, fitted by ``anyseek calibrate`` on held-out generated scenes): per
query kind, a logistic model over each hit's fused score and its distance below the query's best
score. Models without one get the hit's score mapped from [-1, 1] to [0, 1]: uncalibrated, and
said so in ``docs/search.md``. The raw cosine stays in each hit's per-space scores and the fused
``score``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anyseek.model.service import FolderModel, SearchModel

FEATURES = ("score", "score - best score")
DEFAULT_KIND = "default"


def features(scores: np.ndarray, best: np.ndarray | float) -> np.ndarray:
    """[..., 2] features of fused scores given the query's best fused score."""
    return np.stack([scores, scores - best], axis=-1)


def apply(weights: Sequence[float], x: np.ndarray) -> np.ndarray:
    """The logistic model [bias, w_score, w_gap] over features x [..., 2]."""
    w = np.asarray(weights, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-(w[0] + x @ w[1:])))


def calibration_key(modalities: Sequence[str], items: bool) -> str:
    """The kind a calibration is keyed by: the positive parts' modalities, sorted and joined
    by '+' ("caption+sketch"); a query of liked items only is an "image" query."""
    names = sorted(set(modalities))
    return "+".join(names) if names else ("image" if items else DEFAULT_KIND)


@dataclass(frozen=True)
class Calibration:
    """Logistic weights per query kind, for one model version."""

    model: str
    kinds: Mapping[str, tuple[float, ...]]

    def relevance(self, kind: str, scores: np.ndarray, best: float) -> np.ndarray:
        """The relevance of fused scores of a query of this kind whose best score is ``best``."""
        weights = self.kinds.get(kind) or self.kinds[DEFAULT_KIND]
        return apply(weights, features(np.asarray(scores, np.float64), best))


def load_calibration(folder: str | Path | None, version: str) -> Calibration | None:
    """The calibration stored in a model folder, if it has one fitted for this model version."""
    if folder is None:
        return None
    path = Path(folder) / "relevance.json"
    if not path.is_file():
        return None
    body = json.loads(path.read_text())
    if body.get("model") != version or DEFAULT_KIND not in body.get("kinds", {}):
        return None
    return Calibration(body["model"], {k: tuple(v) for k, v in body["kinds"].items()})


def calibration_of(model: SearchModel) -> Calibration | None:
    """The model's calibration: from its folder's ``relevance.json``, when fitted to its version."""
    return load_calibration(model.folder if isinstance(model, FolderModel) else None, model.version)


def relevance_note(model: SearchModel) -> str | None:
    """Why the model's hits carry no relevance, or None when it has a calibration."""
    if calibration_of(model) is not None:
        return None
    return uncalibrated_note(model.name, model.version)


NOT_PHOTOS_NOTE = (
    "relevance is calibrated on photos and these items are not photos (depth maps, captions, "
    "...): their relevance is null; rank them by score"
)


def uncalibrated_note(name: str, version: str) -> str:
    """Why the answers of an uncalibrated model carry no relevance, and how to give it one."""
    return (
        f"model {name!r} (version {version}) has no relevance calibration, so hits carry no "
        "relevance and min_relevance is refused (min_score filters on the raw fused score); "
        "`anyseek calibrate --model SOURCE` fits one for this version into the model's folder, "
        "where it is read"
    )
