"""Retrieval quality of any search model on held-out generated scenes, through its own interface.

Every gallery scene's image is embedded the way the indexer embeds images
(``SearchModel.embed_images``), and the scene is asked for by each of its other modalities and
by combinations (``SearchModel.embed_queries``), the way search asks; per query kind and space the
ranks of the scene's own image give R@1/5/10 and MRR
(``anyseek.workbench.metrics.ranking_metrics``),
and caption-like queries also attribute-precision@10. When a model has several spaces their
cosines are fused as search fuses them. People's queries come from ``anyseek.workbench.styles``:
each style's report rows are marked with its name, a held-out style's with ``(held out)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from anyseek.model.fourm.imagenet import normalize_images
from anyseek.model.runtime.fusion import fuse
from anyseek.model.service import QueryRequest, SearchModel
from anyseek.scenes.tensors import PIXEL_INPUTS, SceneTensors
from anyseek.workbench.cache import Drawings, TrainingSet
from anyseek.workbench.metrics import (
    CAPTION_TEXTS,
    Report,
    RetrievalResult,
    attribute_precision,
    attribute_precision_ceiling,
    edge_matching_similarity,
    fact_matrix,
    random_metrics,
    ranking_metrics,
)

#: query kind -> the query modalities it combines (caption-like ones named by CAPTION_TEXTS)
QUERIES: dict[str, tuple[str, ...]] = {
    "depth": ("depth",),
    "normal": ("normal",),
    "semseg": ("semseg",),
    "sketch": ("sketch",),
    "edges": ("edges",),
    "caption": ("caption",),
    "object": ("object",),
    "caption+sketch": ("caption", "sketch"),
    "caption+depth": ("caption", "depth"),
    "sketch+semseg": ("sketch", "semseg"),
}
#: what a person gives: query kind -> modalities (their sketch, painting and words)
HUMAN_QUERIES: dict[str, tuple[str, ...]] = {
    "sketch": ("sketch",),
    "semseg": ("semseg",),
    "caption": ("caption",),
    "caption+sketch": ("caption", "sketch"),
}
Values = Callable[[int], Any]  # scene index -> one query value (tensor, or caption text)


def scene_values(gallery: SceneTensors) -> dict[str, Values]:
    """Query modality -> one scene's model-ready input (generator-style) or caption text."""
    values: dict[str, Values] = {
        base: (lambda i, b=base: PIXEL_INPUTS[b](gallery, torch.tensor([i]))[0])
        for base in PIXEL_INPUTS
        if base != "rgb"
    }
    for name, text in CAPTION_TEXTS.items():
        values[name] = lambda i, t=text: t(gallery.captions[i])
    return values


def drawn_values(gallery: SceneTensors, drawn: Drawings) -> dict[str, Values]:
    """The same, with a person's sketch, painting and caption in place of the generator's."""
    values = scene_values(gallery)
    values["sketch"] = lambda i: drawn.sketch[i].float()[None] * 2 - 1
    values["semseg"] = lambda i: drawn.semseg[i].long()
    values["caption"] = lambda i: drawn.captions[i]
    return values


def _modality(base: str) -> str:
    """The query modality a value base is given as (``object`` captions are captions)."""
    return "caption" if base in CAPTION_TEXTS else ("image" if base == "rgb" else base)


def query_vectors(
    model: SearchModel, bases: Sequence[str], values: Mapping[str, Values], n: int, batch: int
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Every scene's query of these bases -> vectors [n, D] and information [n] per space."""
    vectors: dict[str, list[torch.Tensor]] = {}
    information: dict[str, list[float]] = {}
    for start in range(0, n, batch):
        requests = []
        for i in range(start, min(n, start + batch)):
            raw = {_modality(b): values[b](i) for b in bases}
            inputs = {m: model.query_modalities[m].transform(v) if isinstance(v, str) else v
                      for m, v in raw.items()}  # fmt: skip
            requests.append(QueryRequest(inputs))
        for found in model.embed_queries(requests):
            for space, e in found.items():
                vectors.setdefault(space, []).append(torch.from_numpy(e.vector))
                information.setdefault(space, []).append(e.information)
    return (
        {s: torch.stack(v) for s, v in vectors.items()},
        {s: torch.tensor(i) for s, i in information.items()},
    )


def image_vectors(model: SearchModel, gallery: SceneTensors, batch: int = 256) -> dict:
    """Every gallery image's vector per space [n, D]."""
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(gallery), batch):
        images = normalize_images(gallery.rgb[start : start + batch])
        for space, v in model.embed_images(images).items():
            parts.setdefault(space, []).append(torch.from_numpy(v))
    return {s: torch.cat(v) for s, v in parts.items()}


def evaluate_queries(
    model: SearchModel,
    gallery: SceneTensors,
    queries: Mapping[str, tuple[str, ...]],
    values: Mapping[str, Values],
    *,
    images: Mapping[str, torch.Tensor] | None = None,
    label: str = "",
    batch: int = 256,
) -> Report:
    """Report rows ``<kind><label>`` -> space (and ``fused``) -> metrics."""
    images = images or image_vectors(model, gallery)
    n = len(gallery)
    report: Report = {}
    for kind, bases in queries.items():
        bases = tuple(b for b in bases if _modality(b) in model.query_modalities)
        if len(bases) < len(queries[kind]):
            continue  # the model does not take every part of this query
        vectors, information = query_vectors(model, bases, values, n, batch)
        sims = {s: vectors[s] @ images[s].t() for s in vectors}
        if len(sims) > 1:
            sims["fused"] = fuse(sims, information)
        text = next((b for b in bases if b in CAPTION_TEXTS), None)
        facts = None
        if text is not None and gallery.scenes:
            facts = fact_matrix([values[text](i) for i in range(n)], gallery.scenes)
        rows = report[kind + label] = {}
        for space, sim in sims.items():
            rows[space] = ranking_metrics(sim)
            if facts is not None:
                rows[space]["attr_P@10"] = attribute_precision(sim, facts)
        if facts is not None:
            rows["ceiling"] = {"attr_P@10": attribute_precision_ceiling(facts)}
    return report


def evaluate_model(
    model: SearchModel,
    gallery: SceneTensors,
    drawings: Mapping[str, Drawings] | None = None,
    *,
    seed: int | None = None,
    held_out: Sequence[str] = (),
    queries: Mapping[str, tuple[str, ...]] = QUERIES,
    edge_baseline: bool = False,
) -> RetrievalResult:
    """The generator's queries, then each drawing style's, then the random baseline."""
    images = image_vectors(model, gallery)
    report = evaluate_queries(model, gallery, queries, scene_values(gallery), images=images)
    if edge_baseline and "sketch" in report:
        report["sketch"]["edge_baseline"] = ranking_metrics(
            edge_matching_similarity(gallery.sketch, gallery.rgb)
        )
    for style, drawn in (drawings or {}).items():
        label = f" ({style}{', held out' if style in held_out else ''})"
        report |= evaluate_queries(
            model, gallery, HUMAN_QUERIES, drawn_values(gallery, drawn), images=images,
            label=label,
        )  # fmt: skip
    report["random"] = {"none": random_metrics(len(gallery))}
    return RetrievalResult(report=report, n=len(gallery), seed=seed)


def headline(result: RetrievalResult, space: str = "fused") -> dict[str, float]:
    """R@1 (and R@10 of people's queries) per query kind: the numbers a learning curve plots."""
    out = {}
    for kind, rows in result.report.items():
        metrics = rows.get(space) or next((m for s, m in rows.items() if "R@1" in m), None)
        if kind == "random" or metrics is None:
            continue
        out[f"{kind} R@1"] = round(metrics["R@1"], 4)
        if "(" in kind:
            out[f"{kind} R@10"] = round(metrics["R@10"], 4)
        if "attr_P@10" in metrics and kind.startswith("object"):
            out[f"{kind} attr_P@10"] = round(metrics["attr_P@10"], 4)
    return out


def input_size(model: SearchModel) -> int:
    """The side in pixels ``model`` reads an image at: the size its test scenes are rendered at."""
    from PIL import Image

    return int(model.image_input(Image.new("RGB", (8, 8))).shape[-1])


def generated_gallery(model: SearchModel, n: int, seed: int, *, human: bool = False) -> TrainingSet:
    """Render ``n`` held-out scenes of ``seed`` at the side ``model`` reads (with people's
    drawings of them when ``human``: the default person and every held-out one, read the way
    ``model`` reads them; the generator's sketches too, when ``model`` reads a drawing's
    content box)."""
    from anyseek.workbench.cache import ChunkJob, render_chunk
    from anyseek.workbench.drawing_transforms import model_readers
    from anyseek.workbench.styles import HELD_OUT

    styles = ("default", *HELD_OUT) if human else ()
    drawn = {"sketch", "semseg"} <= set(model.query_modalities)
    readers = model_readers(model) if drawn else None
    return render_chunk(ChunkJob(seed, 0, n, input_size(model), styles, readers))


def evaluate_rendered(model: SearchModel, gallery: TrainingSet, seed: int) -> RetrievalResult:
    """Evaluate ``model`` on a gallery :func:`generated_gallery` rendered from ``seed``."""
    from anyseek.workbench.styles import HELD_OUT

    return evaluate_model(
        model, gallery.scenes, gallery.drawings, seed=seed, held_out=HELD_OUT, edge_baseline=True
    )


def evaluate_generated(
    model: SearchModel, n: int, seed: int, *, human: bool = False
) -> RetrievalResult:
    """Render ``n`` held-out scenes of ``seed`` (:func:`generated_gallery`) and evaluate
    ``model`` on them."""
    return evaluate_rendered(model, generated_gallery(model, n, seed, human=human), seed)
