"""Retrieval from human-style queries: each gallery scene asked for the way a person asks for it.

The drawing model of ``model.data.human`` makes, for every held-out scene, a rough sketch (shifted,
resized schematic outlines, any pen width, usually no horizon, sometimes an object missing, on a
256 px canvas), a painted segmentation (rough blobs in the palette colours) and a caption in the
person's own words (synonyms, some objects only, filler words). They reach the model exactly as a
user's files do: through the bundle's declared input transforms, and captions through the
service's caption path (synonyms mapped, unknown words left out). The report has the same layout
as :func:`model.eval.retrieval.evaluate_retrieval`'s, its query names marked ``(human)``, so
``anyseek eval retrieval --human`` prints them beside the generator-style queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch
from PIL import Image

from model.bundle.declarations import input_transform
from model.bundle.loading import ModelBundle
from model.data.human import HumanQueries, HumanStyle, draw_human_queries
from model.data.tensors import SceneTensors
from model.eval.retrieval import RetrievalResult, evaluate_retrieval
from model.families.builtin import caption_text

HUMAN = " (human)"
#: human query name -> the modality bases it combines (as in ``model.eval.retrieval.QUERIES``)
HUMAN_QUERIES: dict[str, tuple[str, ...]] = {
    f"sketch{HUMAN}": ("sketch",),
    f"semseg{HUMAN}": ("semseg",),
    f"caption{HUMAN}": ("caption",),
    f"caption+sketch{HUMAN}": ("caption", "sketch"),
}


def human_queries(samples: Sequence[Any], style: HumanStyle | None = None) -> list[HumanQueries]:
    """A person's sketch, painting and caption of every generated scene sample."""
    return [draw_human_queries(s.seed, s.objects, s.instance, s.semseg, style) for s in samples]


def _declared(bundle: ModelBundle, base: str) -> Callable[[Any], torch.Tensor]:
    """The bundle's own input transform of a pixel modality (what search applies to a file)."""
    declarations = bundle.declarations
    if declarations is None:
        from model.bundle.declarations import declare

        declarations = declare(bundle.input_modalities, bundle.fm.output_modalities)
    return input_transform(declarations.inputs[bundle.modality(base)], declarations.palette)


def human_gallery(
    bundle: ModelBundle, gallery: SceneTensors, drawn: Sequence[HumanQueries]
) -> SceneTensors:
    """``gallery`` with its sketches, segmentations and captions replaced by the person's,
    each read the way search reads a user's: same images to find, human queries to find them."""
    sketch, semseg = _declared(bundle, "sketch"), _declared(bundle, "semseg")
    captions = [caption_text(bundle.text, d.caption) or "." for d in drawn]
    return replace(
        gallery,
        sketch=torch.stack([sketch(Image.fromarray(d.sketch))[0] > 0 for d in drawn]),
        semseg=torch.stack([semseg(Image.fromarray(d.painting)) for d in drawn]).to(torch.uint8),
        captions=[(c,) * 4 for c in captions],
    )


def evaluate_human(
    bundle: ModelBundle,
    gallery: SceneTensors,
    samples: Sequence[Any],
    *,
    seed: int | None = None,
    style: HumanStyle | None = None,
    batch_size: int = 128,
) -> RetrievalResult:
    """Every human-style query kind against the gallery (the samples it was made from)."""
    drawn = human_queries(samples, style)
    human = human_gallery(bundle, gallery, drawn)
    result = evaluate_retrieval(
        bundle, human, seed=seed, queries=dict(HUMAN_QUERIES), batch_size=batch_size
    )
    result.report.pop("random", None)
    return result


def beside(generated: RetrievalResult, human: RetrievalResult) -> RetrievalResult:
    """One report: the generator-style queries, then the human-style ones, then the baseline."""
    report = {k: v for k, v in generated.report.items() if k != "random"}
    report |= human.report
    report["random"] = generated.report["random"]
    return RetrievalResult(report=report, n=generated.n, seed=generated.seed)
