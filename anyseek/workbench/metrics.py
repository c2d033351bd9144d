"""Retrieval metrics on generated scenes: ranks, caption facts, baselines and the report.

Query i's relevant answer is gallery item i. R@1/5/10 and MRR come from the rank of that item
(ties count in the query's favour); caption-like queries are also scored by attribute-precision@10:
the share of the top 10 whose scene has every object the caption states (``caption_facts``), next
to its ceiling (a caption naming every object of a scene fits about one scene of a gallery) and a
random ranking's value. Baselines: a random ranking, and for sketches a training-free edge matcher
(blurred sketch against blurred Canny edges of the gallery images).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

KS = (1, 5, 10)
QUERY_CAPTION = 0  # which phrasing queries use: the short object list ("a red cube and ...")


def first_object(caption: str) -> str:
    """The first object of an object-list caption as a caption of its own: "A red metal cube."."""
    from anyseek.scenes.captions import object_phrases

    return (object_phrases(caption) or [caption])[0]


#: caption-like query bases -> the text each gallery scene is queried with (its caption phrasings
#: in, text out). ``caption`` names every visible object, so only about one gallery scene satisfies
#: it; ``object`` names one object, the way people usually search.
CAPTION_TEXTS: dict[str, Callable[[Sequence[str]], str]] = {
    "caption": lambda captions: captions[QUERY_CAPTION],
    "object": lambda captions: first_object(captions[QUERY_CAPTION]),
}


Metrics = dict[str, float]
Report = dict[str, dict[str, Metrics]]


def ranking_metrics(similarity: torch.Tensor) -> Metrics:
    """R@k and MRR when query i's relevant item is gallery item i; similarity [Q, N]."""
    target = similarity.diagonal()[:, None]
    rank = (similarity > target).sum(1)  # ties count in the query's favour
    out = {f"R@{k}": float((rank < k).float().mean()) for k in KS}
    out["MRR"] = float((1.0 / (rank + 1).float()).mean())
    return out


def random_metrics(n: int) -> Metrics:
    """Expected metrics of a uniformly random ranking of ``n`` items."""
    out = {f"R@{k}": min(k, n) / n for k in KS}
    out["MRR"] = float(sum(1.0 / r for r in range(1, n + 1)) / n)
    return out


# ----------------------------------------------------------------------------- caption facts

_SIZE_WORDS = {"small": "small", "little": "small", "large": "large", "big": "large"}
_MATERIAL_WORDS = {
    "matte": "matte",
    "rubber": "matte",
    "metal": "metal",
    "metallic": "metal",
    "shiny": "metal",
}


def _vocabulary() -> tuple[set[str], dict[str, str]]:
    """Colour names and noun -> shape, from the scene generator's own word lists."""
    from anyseek.scenes.captions import NOUNS
    from anyseek.scenes.scene import COLORS

    return set(COLORS), {word: shape for shape, words in NOUNS.items() for word in words}


def caption_facts(caption: str) -> list[dict[str, str]]:
    """Objects an object-list caption states, each as its stated attributes.

    "A small red metal cube and a blue ball." -> [{size: small, color: red, material: metal,
    shape: cube}, {color: blue, shape: sphere}]. Every object phrase ends with its noun, so the
    words between two nouns are the next object's, whatever joins them (", ", "and", "next to",
    or nothing once unknown words are left out).
    """
    colors, nouns = _vocabulary()
    facts = []
    fact: dict[str, str] = {}
    for word in re.findall(r"[a-z]+", caption.lower()):
        if word in _SIZE_WORDS:
            fact["size"] = _SIZE_WORDS[word]
        elif word in colors:
            fact["color"] = word
        elif word in _MATERIAL_WORDS:
            fact["material"] = _MATERIAL_WORDS[word]
        elif word in nouns:
            facts.append({**fact, "shape": nouns[word]})
            fact = {}
    return facts


def satisfies(scene: dict[str, Any], facts: Sequence[dict[str, str]]) -> bool:
    """Whether every stated object exists among the scene's visible objects."""
    objects = scene["objects"]
    return all(any(all(o.get(k) == v for k, v in fact.items()) for o in objects) for fact in facts)


def fact_matrix(captions: Sequence[str], scenes: Sequence[dict[str, Any]]) -> torch.Tensor:
    """[Q, N] bool: gallery scene j satisfies every fact of query caption i (:func:`satisfies`).

    Each distinct stated object is matched against every scene's objects at once, as integer
    codes: asking :func:`satisfies` pair by pair was nine tenths of a validation of the
    1,000-scene gallery under cProfile (a run validates after every chunk)."""
    parsed = [[tuple(sorted(fact.items())) for fact in caption_facts(c)] for c in captions]
    distinct = sorted({fact for facts in parsed for fact in facts})
    found = _objects_found(distinct, scenes)  # [U, N]
    row_of = {fact: u for u, fact in enumerate(distinct)}
    out = torch.ones(len(captions), len(scenes), dtype=torch.bool)  # no fact: every scene fits
    for i, facts in enumerate(parsed):
        for fact in facts:
            out[i] &= found[row_of[fact]]
    return out


def _objects_found(
    facts: Sequence[tuple[tuple[str, str], ...]], scenes: Sequence[dict[str, Any]]
) -> torch.Tensor:
    """[U, N] bool: scene j has an object with every (attribute, value) of stated object u."""
    keys = sorted({key for fact in facts for key, _ in fact})
    codes = {key: {v: c for c, v in enumerate(sorted({v for f in facts for k, v in f if k == key}))}
             for key in keys}  # fmt: skip
    width = max((len(s["objects"]) for s in scenes), default=0)
    # [N, M, K]: each object's code per attribute; -1 for padding, a value no fact states or none
    objects = torch.full((len(scenes), width, len(keys)), -1, dtype=torch.int32)
    real = torch.zeros(len(scenes), width, dtype=torch.bool)  # [N, M]: not padding
    for j, scene in enumerate(scenes):
        for m, obj in enumerate(scene["objects"]):
            objects[j, m] = torch.tensor([codes[k].get(obj.get(k), -1) for k in keys])
            real[j, m] = True
    found = torch.zeros(len(facts), len(scenes), dtype=torch.bool)
    for u, fact in enumerate(facts):
        match = real.clone()
        for key, value in fact:
            match &= objects[:, :, keys.index(key)] == codes[key][value]
        found[u] = match.any(dim=1)
    return found


def attribute_precision(similarity: torch.Tensor, facts: torch.Tensor, k: int = 10) -> float:
    """Mean fraction of each query's top ``k`` that satisfies all its caption's facts."""
    top = similarity.topk(min(k, similarity.shape[1]), dim=1).indices
    return float(facts.gather(1, top).float().mean())


def attribute_precision_ceiling(facts: torch.Tensor, k: int = 10) -> float:
    """The best attr_P@k any ranking can reach: a query satisfied by m < k scenes caps at m/k."""
    k = min(k, facts.shape[1])
    return float((facts.sum(1).clamp(max=k).float() / k).mean())


# ----------------------------------------------------------------------------- baselines


def _blurred(maps: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """[N, S, S] line maps in [0, 1] -> Gaussian-blurred, flattened, L2-normalised [N, S*S]."""
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    m = maps.float()[:, None]
    m = F.conv2d(m, kernel.view(1, 1, 1, -1), padding=(0, radius))
    m = F.conv2d(m, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    return F.normalize(m.flatten(1), dim=1)


def edge_matching_similarity(sketches: torch.Tensor, gallery_rgb: torch.Tensor) -> torch.Tensor:
    """Sketch vs Canny edges of each gallery image (both blurred): cosine [Q, N]."""
    from skimage.feature import canny

    grey = gallery_rgb.float().mean(1) / 255.0  # [N, S, S]
    edges = torch.stack([torch.from_numpy(canny(g.numpy(), sigma=1.0)) for g in grey]).float()
    return _blurred(sketches.float()) @ _blurred(edges).t()


# ----------------------------------------------------------------------------- evaluation


@dataclass
class RetrievalResult:
    """Per query name -> space -> metric, plus the gallery it was measured on."""

    report: Report
    n: int
    seed: int | None

    def to_json(self) -> str:
        """The JSON layout of ``anyseek eval retrieval --json``."""
        return json.dumps(self.report, indent=2, sort_keys=False)

    def markdown(self) -> str:
        """One row per (query, space) with every metric; baselines included."""
        columns = ["R@1", "R@5", "R@10", "MRR", "attr_P@10"]
        lines = [
            f"Gallery: {self.n} held-out scenes"
            + (f" (seed {self.seed})" if self.seed is not None else ""),
            "",
            "| query | space | " + " | ".join(columns) + " |",
            "|---|---|" + "---|" * len(columns),
        ]
        for query, spaces in self.report.items():
            for space, metrics in spaces.items():
                cells = [f"{metrics[c]:.3f}" if c in metrics else "" for c in columns]
                lines.append(f"| {query} | {space} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def write_report(result: RetrievalResult, json_path: Path | None) -> None:
    """Write the JSON report if a path is given."""
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(result.to_json() + "\n")
