"""Fit a model's relevance calibration (its folder's ``relevance.json``) on generated scenes.

Relevance is the probability that a hit is the scene the query describes. Raw fused cosines mean
different things per query kind (a caption's right answer scores ~0.5, a sketch's ~0.8), so one
minimum score cannot serve every kind. Per query kind, a logistic model over two features of each
of a query's top candidates, its fused score and its distance below the query's best score
(``anyseek.search.relevance.FEATURES``), is fitted on held-out generated scenes (seeds disjoint from
training and from the tests' galleries), and checked on a second, disjoint set of scenes.
``anyseek calibrate`` runs it; ``anyseek.search.relevance`` reads what it writes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from anyseek.model.service import SearchModel
from anyseek.search.relevance import DEFAULT_KIND, FEATURES, apply, features

TOP = 50  # candidates per query the fit sees (a page, and what min-score filters among)
CHECK_OFFSET = 100_000  # the check set's seed: the fit's plus this, so the two never overlap
DEFAULT_SEED = 555_001  # disjoint from training (0...) and the eval gallery (777_001)
#: query kind as search names it -> the eval's modality bases
KINDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "caption": (("caption",), ("object",)),
    "sketch": (("sketch",),),
    "depth": (("depth",),),
    "semseg": (("semseg",),),
    "image": (("rgb",),),
    "caption+sketch": (("caption", "sketch"),),
    "caption+depth": (("caption", "depth"),),
    "semseg+sketch": (("sketch", "semseg"),),
}


@dataclass(frozen=True)
class CheckRow:
    """How one kind's fit reads on the check scenes."""

    kind: str
    top1_relevance: float  # mean relevance of each query's #1
    top1_right: float  # share of queries whose #1 is the scene
    precision: float  # right among candidates of relevance >= 0.5
    recall: float  # right ones kept at 0.5
    abs_error: float  # mean |relevance - is right|


@dataclass(frozen=True)
class Fit:
    """A calibration fitted for one model version, and how it checked."""

    model: str
    n: int
    seed: int
    seconds: float
    weights: dict[str, list[float]] = field(default_factory=dict)
    rows: list[CheckRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``relevance.json`` body ``anyseek.search.relevance.load_calibration`` reads."""
        return {"model": self.model, "features": list(FEATURES), "kinds": self.weights}

    def markdown(self, command: str = "") -> str:
        """The check table, headed by the command that wrote it."""
        head = [f"Command: `{command}`", ""] if command else []
        lines = [
            *head,
            f"Model {self.model}. Fit on {self.n} held-out scenes per kind (seed {self.seed}), "
            f"checked on {self.n} "
            f"others (seed {self.seed + CHECK_OFFSET}); top {TOP} candidates per query; "
            f"{self.seconds:.0f} s on {torch.get_num_threads()} threads.",
            "",
            "| query kind | mean relevance of #1 | #1 is right | right among relevance >= 0.5 | "
            "right ones kept at 0.5 | mean abs error |",
            "|---|---|---|---|---|---|",
            *(
                f"| {r.kind} | {r.top1_relevance:.3f} | {r.top1_right:.3f} | {r.precision:.3f} "
                f"| {r.recall:.3f} | {r.abs_error:.4f} |"
                for r in self.rows
            ),
            "",
            self.reading(),
        ]
        return "\n".join(lines) + "\n"

    def reading(self) -> str:
        """What the table says, written from its rows (no hand prose to fall out of date)."""
        lines = [
            "`right among relevance >= 0.5`: of the hits a minimum relevance of 0.5 keeps, the "
            "share that are the scene (the precision that minimum promises); `right ones kept at "
            "0.5`: the share of the scenes a 0.5 minimum keeps."
        ]
        caption = next((r for r in self.rows if r.kind == "caption"), None)
        if caption is not None:
            lines.append(
                '`caption` pools full captions and one-object captions ("a red cube"), which '
                f"fit many scenes: its #1 is the asked scene {caption.top1_right:.1%} of the time "
                f"and the calibration says {caption.top1_relevance:.2f}."
            )
        others = [r for r in self.rows if r.kind != "caption"]
        if others:
            right = sorted(r.top1_right for r in others)
            said = sorted(r.top1_relevance for r in others)
            lines.append(
                f"Every other kind's #1 is right {right[0]:.1%}-{right[-1]:.1%} of the time and "
                f"said to be {said[0]:.2f}-{said[-1]:.2f}."
            )
        return " ".join(lines)


def candidates(fused: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(features [Q*top, 2], is-the-scene labels) of each query's top candidates."""
    top = fused.topk(min(TOP, fused.shape[1]), dim=1)
    scores = top.values.double().numpy()
    labels = (top.indices == torch.arange(len(fused))[:, None]).numpy()
    return features(scores, scores[:, :1]).reshape(-1, 2), labels.reshape(-1)


def scenes_fused(model: SearchModel, seed: int, n: int, bases: tuple[str, ...]) -> torch.Tensor:
    """Fused [n, n] scores of n held-out scenes queried by ``bases``, as search fuses them
    (through the search-model interface, so any model family can be calibrated)."""
    from anyseek.model.runtime.fusion import fuse
    from anyseek.workbench.cache import ChunkJob, render_chunk
    from anyseek.workbench.evaluate import image_vectors, query_vectors, scene_values

    gallery = render_chunk(ChunkJob(seed, 0, n, 64, ())).scenes
    index = image_vectors(model, gallery)
    values = scene_values(gallery)
    values["rgb"] = lambda i: model.image_input(
        Image.fromarray(gallery.rgb[i].permute(1, 2, 0).numpy())
    )
    vectors, information = query_vectors(model, bases, values, n, 256)
    sims = {s: vectors[s] @ index[s].t() for s in index}
    return fuse(sims, information) if len(sims) > 1 else next(iter(sims.values()))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """[bias, w...] of a logistic regression by Newton's method (two features: no library)."""
    a = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(a.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + l2 * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _check(kind: str, w: np.ndarray, x: np.ndarray, y: np.ndarray) -> CheckRow:
    """One kind's fit read on the check set."""
    p = apply(w, x)
    top1 = x[:, 1] == 0  # each query's best candidate
    keep = p >= 0.5
    return CheckRow(
        kind,
        float(p[top1].mean()),
        float(y[top1].mean()),
        float(y[keep].mean()) if keep.any() else float("nan"),
        float((keep & y).sum() / max(int(y.sum()), 1)),
        float(np.abs(p - y).mean()),
    )


def calibrate(
    model: SearchModel, n: int, seed: int = DEFAULT_SEED, kinds: tuple[str, ...] = tuple(KINDS)
) -> Fit:
    """Fit each kind on n scenes of ``seed``, check it on n others; a pooled fit is the
    ``default`` kind, used for kinds not fitted."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown query kinds {unknown}; known: {sorted(KINDS)}")
    start = time.perf_counter()
    weights: dict[str, list[float]] = {}
    rows, pooled_x, pooled_y = [], [], []
    for kind in kinds:
        sets = {}
        for role, at in (("fit", seed), ("check", seed + CHECK_OFFSET)):
            found = [candidates(scenes_fused(model, at, n, b)) for b in KINDS[kind]]
            xs, ys = zip(*found, strict=True)
            sets[role] = (np.concatenate(xs), np.concatenate(ys))
        w = fit_logistic(*sets["fit"])
        weights[kind] = [round(float(v), 5) for v in w]
        pooled_x.append(sets["fit"][0])
        pooled_y.append(sets["fit"][1])
        rows.append(_check(kind, w, *sets["check"]))
    pooled = fit_logistic(np.concatenate(pooled_x), np.concatenate(pooled_y))
    weights[DEFAULT_KIND] = [round(float(v), 5) for v in pooled]
    return Fit(model.version, n, seed, time.perf_counter() - start, weights, rows)


def write_calibration(fit: Fit, path: Path) -> None:
    """``relevance.json`` at ``path``."""
    path.write_text(json.dumps(fit.to_json(), indent=1) + "\n")
