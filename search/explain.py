"""Why a search's results are what they are: asked for with ``explain``, never computed unasked,
since it costs model passes the search itself does not (per-part passes, a generated caption,
depth and segmentation of the query's image). Those passes run in the model stage, on the
inference thread with the prediction (:func:`model_work`); the rest is put together after the
store stage (:func:`explain`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from anyseek.errors import AnyseekError
from anyseek.model.service import DescribingModel
from anyseek.search.candidates import Candidates
from anyseek.search.inputs import describe_inputs
from anyseek.search.plan import Plan
from anyseek.search.query import Explanation, SearchQuery, SpaceExplanation
from anyseek.search.reconstruct import explain_reconstructions


@dataclass(frozen=True)
class ModelWork:
    """What explaining a plan asks of the model: each part described, a caption, reconstructions."""

    inputs: Mapping[str, Mapping[str, Any]]
    imagined: str | None
    reconstructions: Mapping[str, str] | None


def model_work(plan: Plan) -> ModelWork:
    """The model's part of a plan's explanation (run in the model stage)."""
    imagined = _imagine(plan)
    seen = _reconstruct(plan)
    return ModelWork(_describe(plan, plan.inputs, plan.weights, plan.priors), imagined, seen)


def explain(
    plan: Plan,
    information: Mapping[str, float],
    fused_weights: Mapping[str, float],
    candidates: Candidates,
) -> Explanation:
    """The explanation of a plan's answer: per-space information, weight and candidates, what
    the model saw of each part, the stage timings, what it imagines and reconstructs."""
    work = plan.explained if plan.explained is not None else model_work(plan)
    return Explanation(
        spaces={
            s: SpaceExplanation(information[s], fused_weights[s], candidates.found[s])
            for s in plan.spaces
        },
        fusion=plan.fusion,
        combine=combine_way(plan.query, plan.combine),
        inputs=work.inputs,
        union=len(candidates.ids),
        timings_ms=dict(plan.timer.ms),
        imagined=work.imagined,
        reconstructions=work.reconstructions,
    )


def combine_way(query: SearchQuery, combine: str) -> str:
    """How the query's parts were turned into one prediction."""
    if not query.parts:
        return "items"
    if all(p.weight == 1.0 for p in query.parts) or (
        len(query.parts) == 1 and query.parts[0].weight > 0
    ):
        return "joint"
    return combine


def _imagine(plan: Plan) -> str | None:
    """What the model "imagines" for the query's positive parts (a caption it generates), when
    it can say; None for models that cannot, or for a query of liked items only."""
    positive = {k: v for k, v in plan.inputs.items() if plan.weights.get(k, 1.0) > 0}
    if not positive or not isinstance(plan.model, DescribingModel):
        return None
    start = time.perf_counter()
    try:
        return plan.model.describe(positive)
    except AnyseekError:  # e.g. a checkpoint that generates no captions
        return None
    finally:
        plan.timer.add("imagine", start)


def _reconstruct(plan: Plan) -> dict[str, str] | None:
    """The model's depth and segmentation of the query's image part, when asked and able."""
    if not plan.query.reconstruct:
        return None
    start = time.perf_counter()
    found = explain_reconstructions(plan.model, plan.inputs)
    if found is not None:
        plan.timer.add("reconstruct", start)
    return found


def _describe(
    plan: Plan,
    inputs: Mapping[str, torch.Tensor],
    weights: Mapping[str, float],
    priors: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, dict]:
    """What the model saw of each part and, for several parts, what each alone says per
    space (its information in nats: a sketch speaks to the layout space, a caption to the
    semantic one), which is what the combined prediction and the space weights follow."""
    described = describe_inputs(plan.model, inputs, weights)
    if len(inputs) > 1:
        for name, x in inputs.items():
            alone = plan.model.embed_query({name: x}, priors=priors)
            described[name]["information"] = {s: round(e.information, 4) for s, e in alone.items()}
    return described
