"""A batch of mixed queries embeds each one as it would be embedded alone."""

from __future__ import annotations

import torch

from anyseek.model.families.builtin import load_builtin_search_model
from anyseek.model.families.interface import QueryRequest
from anyseek.scenes.sample import generate_scene
from anyseek.scenes.tensors import from_samples, pixel_inputs


def test_mixed_queries_share_the_trunk_pass_and_get_their_own_vectors() -> None:
    model = load_builtin_search_model("builtin")
    scenes = from_samples([generate_scene(424200 + i, 64) for i in range(4)])
    inputs = pixel_inputs(scenes, torch.arange(4), ["sketch@64", "depth@64", "semseg@64"])
    requests = [
        QueryRequest({"sketch": inputs["sketch@64"][0]}),
        QueryRequest({"depth": inputs["depth@64"][1]}),
        QueryRequest({"semseg": inputs["semseg@64"][2], "sketch": inputs["sketch@64"][3]}),
        QueryRequest({"depth": inputs["depth@64"][3]}, weights={"depth": 2.0}),
    ]
    calls: list[str] = []
    trunk = model.bundle.model.trunk
    hook = trunk.register_forward_hook(lambda *_: calls.append("trunk"))
    try:
        batched = model.embed_queries(requests)
    finally:
        hook.remove()
    assert calls == ["trunk"]  # sketches, depth maps and paintings: one pass, not three

    space = model.spaces[0].name
    for request, answer in zip(requests, batched, strict=True):
        [alone] = model.embed_queries([request])
        torch.testing.assert_close(
            torch.from_numpy(answer[space].vector), torch.from_numpy(alone[space].vector),
            atol=1e-5, rtol=1e-4,
        )  # fmt: skip
    vectors = [torch.from_numpy(a[space].vector) for a in batched]
    assert float(vectors[0] @ vectors[1]) < 0.99  # different queries, different vectors
