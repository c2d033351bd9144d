"""Human-style retrieval evaluation with the committed built-in model: the person's queries reach
the model exactly as a user's files reach search, and the report sits beside the generator's."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from model.bundle.loading import load_bundle
from model.data import generate_scene
from model.data.tensors import from_samples
from model.eval.human import HUMAN_QUERIES, beside, evaluate_human, human_gallery, human_queries
from model.eval.retrieval import evaluate_retrieval
from model.families.builtin import BundleSearchModel

N = 16


@pytest.fixture(scope="module")
def bundle():
    return load_bundle("builtin")


@pytest.fixture(scope="module")
def samples() -> list:
    return [generate_scene(555_000 + i, 64) for i in range(N)]


def test_human_queries_are_read_as_search_reads_a_users_files(bundle, samples) -> None:
    drawn = human_queries(samples[:3])
    human = human_gallery(bundle, from_samples(samples[:3]), drawn)
    service = BundleSearchModel(bundle).query_modalities
    for i, d in enumerate(drawn):
        sketch = service["sketch"].transform(Image.fromarray(d.sketch))
        assert torch.equal(human.sketch[i], sketch[0] > 0)
        semseg = service["semseg"].transform(Image.fromarray(d.painting))
        assert torch.equal(human.semseg[i].long(), semseg)
        ids = bundle.text.caption_batch([human.captions[i][0]]).ids[0]
        assert torch.equal(ids, service["caption"].transform(d.caption))


def test_the_human_report_sits_beside_the_generator_one(bundle, samples) -> None:
    gallery = from_samples(samples)
    generated = evaluate_retrieval(bundle, gallery, queries={"sketch": ("sketch",)})
    human = evaluate_human(bundle, gallery, samples)
    both = beside(generated, human)
    assert list(both.report) == ["sketch", *HUMAN_QUERIES, "random"]
    for name in HUMAN_QUERIES:
        assert {"R@1", "R@10", "MRR"} <= set(both.report[name]["fused"])
    assert "edge_baseline" in both.report["sketch (human)"]
    # a person's caption names true objects: the committed model ranks far above chance
    assert both.report["caption (human)"]["fused"]["MRR"] > 3 * both.report["random"]["none"]["MRR"]
    assert "| semseg (human) | fused |" in both.markdown()
