"""Retrieval evaluation: find each gallery scene's image from its other modalities.

For every scene of a held-out gallery the relevant answer is its RGB image, indexed the way the
service indexes images (embeddings predicted from rgb). Each scene is queried with each of its own
modalities and with combinations; the ranks of the relevant image give R@1/5/10 and MRR per query
and per space (``clip``, ``dino``, and ``fused``: the cosines weighted per query by how much the
model's prediction in each space says about the query, as search does, see
``model.inference.fusion``). Caption queries also get attribute-precision@10: the fraction of the
top 10 whose scene satisfies every fact the caption states, next to its ``ceiling`` (the best any
ranking can do: a caption naming every object of a scene is satisfied by about one gallery scene,
so its attr_P@10 cannot approach 1) and its ``random`` value; ``object`` queries name one object of
the scene. Baselines: random ranking, and for sketches an edge-matching baseline (blurred sketch vs
blurred Canny edges of the gallery).
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

from model.bundle.definition import BUILTIN, BuiltinDefinition
from model.bundle.loading import ModelBundle
from model.data.tensors import SceneTensors, pixel_inputs
from model.inference.fusion import fuse

KS = (1, 5, 10)
QUERY_CAPTION = 0  # which phrasing queries use: the short object list ("a red cube and ...")


def first_object(caption: str) -> str:
    """The first object of an object-list caption as a caption of its own: "A red metal cube."."""
    from model.data.captions import object_phrases

    return (object_phrases(caption) or [caption])[0]


#: caption-like query bases -> the text each gallery scene is queried with (its caption phrasings
#: in, text out). ``caption`` names every visible object, so only about one gallery scene satisfies
#: it; ``object`` names one object, the way people usually search.
CAPTION_TEXTS: dict[str, Callable[[Sequence[str]], str]] = {
    "caption": lambda captions: captions[QUERY_CAPTION],
    "object": lambda captions: first_object(captions[QUERY_CAPTION]),
}


def definition_queries(definition: BuiltinDefinition = BUILTIN) -> dict[str, tuple[str, ...]]:
    """Query name -> modality base names it combines: each input but the indexed image alone
    (named by its registry base name), every caption phrasing, and the definition's combinations.
    """
    singles = [b for b in definition.pixel_bases if b != definition.image]
    queries = {name: (name,) for name in (*singles, *CAPTION_TEXTS)}
    queries |= {"+".join(bases): tuple(bases) for bases in definition.combinations}
    return queries


#: query name -> modality base names it combines (the built-in definition's)
QUERIES: dict[str, tuple[str, ...]] = definition_queries()
#: short space names in reports -> global modality of the model (the built-in definition's)
SPACE_NAMES: dict[str, str] = BUILTIN.space_outputs()

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
    from model.data.captions import NOUNS
    from model.data.scene import COLORS

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
    """[Q, N] bool: gallery scene j satisfies every fact of query caption i."""
    parsed = [caption_facts(c) for c in captions]
    return torch.tensor([[satisfies(s, f) for s in scenes] for f in parsed], dtype=torch.bool)


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


def _embed_all(
    bundle: ModelBundle,
    make_inputs: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    n: int,
    batch_size: int,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Embeddings [n, C] and information [n] per space, computed in batches of scene indices."""
    vectors: dict[str, list[torch.Tensor]] = {}
    information: dict[str, list[torch.Tensor]] = {}
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(n, start + batch_size))
        for space, found in bundle.embed_spaces(make_inputs(index)).items():
            vectors.setdefault(space, []).append(found.vectors.float().cpu())
            information.setdefault(space, []).append(found.information.float().cpu())
    return (
        {space: torch.cat(v) for space, v in vectors.items()},
        {space: torch.cat(i) for space, i in information.items()},
    )


def query_inputs(
    bundle: ModelBundle,
    gallery: SceneTensors,
    bases: Sequence[str],
    caption_ids: dict[str, torch.Tensor],
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """A function from scene indices to the model inputs of one query kind."""
    pixel_names = [bundle.modality(b) for b in bases if b not in CAPTION_TEXTS]
    texts = [b for b in bases if b in CAPTION_TEXTS]

    def make(index: torch.Tensor) -> dict[str, torch.Tensor]:
        inputs = pixel_inputs(gallery, index, pixel_names)
        for base in texts:  # at most one caption-like base per query
            ids = caption_ids[base][index]
            inputs["caption"] = ids[:, : int((ids != 0).sum(1).max())]
        device = bundle.fm.device
        return {k: v.to(device) for k, v in inputs.items()}

    return make


def report_spaces(bundle: ModelBundle) -> dict[str, str]:
    """Short space name -> FM output, as the bundle declares them (else the definition's)."""
    if bundle.declarations is not None:
        return {short: out for out, short in bundle.declarations.space_names.items()}
    return {BUILTIN.short_name(out): out for out in bundle.spaces}


def evaluate_retrieval(
    bundle: ModelBundle,
    gallery: SceneTensors,
    *,
    seed: int | None = None,
    queries: dict[str, tuple[str, ...]] | None = None,
    batch_size: int = 128,
    progress: Callable[[str], None] | None = None,
) -> RetrievalResult:
    """Run every query kind against the gallery; returns the full report."""
    queries = queries or QUERIES
    n = len(gallery)
    texts = {
        base: [to_text(c) for c in gallery.captions] for base, to_text in CAPTION_TEXTS.items()
    }
    caption_ids = {base: bundle.text.caption_batch(t).ids for base, t in texts.items()}
    spaces = report_spaces(bundle)
    rgb = bundle.modality(BUILTIN.image)
    index_vectors, _ = _embed_all(
        bundle,
        lambda i: {rgb: pixel_inputs(gallery, i, [rgb])[rgb].to(bundle.fm.device)},
        n,
        batch_size,
    )
    facts = (
        {base: fact_matrix(t, gallery.scenes) for base, t in texts.items()}
        if gallery.scenes
        else None
    )
    report: Report = {}
    for query, bases in queries.items():
        if progress is not None:
            progress(query)
        vectors, information = _embed_all(
            bundle, query_inputs(bundle, gallery, bases, caption_ids), n, batch_size
        )
        sims = {short: vectors[name] @ index_vectors[name].t() for short, name in spaces.items()}
        if len(sims) > 1:
            sims["fused"] = fuse(sims, {short: information[name] for short, name in spaces.items()})
        report[query] = {}
        text_base = next((b for b in bases if b in CAPTION_TEXTS), None)
        for space, sim in sims.items():
            metrics = ranking_metrics(sim)
            if text_base is not None and facts is not None:
                metrics["attr_P@10"] = attribute_precision(sim, facts[text_base])
            report[query][space] = metrics
        if text_base is not None and facts is not None:
            chosen = facts[text_base]
            report[query]["random"] = {"attr_P@10": float(chosen.float().mean())}
            report[query]["ceiling"] = {"attr_P@10": attribute_precision_ceiling(chosen)}
        if bases == ("sketch",):
            report[query]["edge_baseline"] = ranking_metrics(
                edge_matching_similarity(gallery.sketch, gallery.rgb)
            )
    baseline = random_metrics(n)
    if facts is not None:
        baseline["attr_P@10"] = float(facts["caption"].float().mean())
    report["random"] = {"none": baseline}
    return RetrievalResult(report=report, n=n, seed=seed)


def write_report(result: RetrievalResult, json_path: Path | None) -> None:
    """Write the JSON report if a path is given."""
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(result.to_json() + "\n")
