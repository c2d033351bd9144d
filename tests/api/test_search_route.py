"""The search route is thin: it pays for ``explain`` only when asked (the real built-in model's
calls counted), stage timings reach ``/metrics`` either way, and ``k``/``offset`` are checked
against the settings' limits, which the OpenAPI document publishes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest
from api_helpers import COLLECTION, Served, png_bytes

SEARCH = f"/v1/collections/{COLLECTION}/search"
STAGES = ("transform", "model", "store", "fuse", "total")


@pytest.fixture
def model_calls(served: Served, monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Calls into the served (real) model's query methods, counted as the searcher makes them."""
    model = served.client.app.state.anyseek.searcher.model
    calls: Counter = Counter()

    def counting(name: str) -> Callable:
        method = getattr(model, name)

        def counted(*args, **kwargs):
            calls[name] += 1
            return method(*args, **kwargs)

        return counted

    for name in ("embed_query", "embed_queries"):
        monkeypatch.setattr(model, name, counting(name))
    return calls


def _stage_counts(served: Served) -> dict[str, float]:
    """``anyseek_search_stage_seconds_count`` per stage, as /metrics shows it now."""
    text = served.client.get("/metrics").text
    pattern = r'anyseek_search_stage_seconds_count\{stage="(\w+)"\} ([0-9.e+]+)'
    return {stage: float(count) for stage, count in re.findall(pattern, text)}


def _caption_and_sketch(served: Served, explain: bool) -> dict:
    """A two-part multipart search (explain re-embeds each part alone)."""
    scene = served.scenes[5]
    response = served.client.post(
        f"{SEARCH}/upload",
        files={"sketch": ("s.png", png_bytes(255 - scene.sketch), "image/png")},
        data={
            "caption": scene.captions[0],
            "params": f'{{"k": 5, "explain": {str(explain).lower()}}}',
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_search_without_explain_pays_for_no_explain(served: Served, model_calls: Counter) -> None:
    before = _stage_counts(served)
    body = _caption_and_sketch(served, explain=False)
    assert body["explanation"] is None
    assert model_calls == {"embed_queries": 1}  # the one batched prediction, no per-part passes
    after = _stage_counts(served)
    for stage in STAGES:
        assert after[stage] == before.get(stage, 0) + 1, stage


def test_explain_when_asked_does_the_extra_work(served: Served, model_calls: Counter) -> None:
    plain = _caption_and_sketch(served, explain=False)
    model_calls.clear()
    explained = _caption_and_sketch(served, explain=True)
    assert model_calls["embed_query"] == 2  # each part alone: the explain's per-part information
    assert explained["hits"] == plain["hits"]
    assert set(STAGES) <= set(explained["explanation"]["timings_ms"])
    assert set(explained["explanation"]["inputs"]["caption"]["information"]) == {"clip", "dino"}
