"""The search route is thin: it pays for ``explain`` only when asked (the real built-in model's
calls counted), stage timings reach ``/metrics`` either way, and ``k``/``offset`` are checked
against the settings' limits, which the OpenAPI document publishes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from api_helpers import COLLECTION, Served, png_bytes
from fastapi.testclient import TestClient

from anyseek.search.searcher import Searcher
from anyseek.settings import Settings

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
    assert set(explained["explanation"]["inputs"]["caption"]["information"]) == {"bind"}


def _limits(spec: dict) -> dict[str, int]:
    """The maximum the OpenAPI document gives ``k`` and ``offset`` of a JSON search."""
    fields = spec["components"]["schemas"]["SearchRequest"]["properties"]
    return {name: fields[name]["maximum"] for name in ("k", "offset")}


def test_openapi_publishes_the_settings_limits(served: Served) -> None:
    search = served.settings.search
    assert _limits(served.client.get("/openapi.json").json()) == {
        "k": search.max_k,
        "offset": search.max_window - 1,
    }


@pytest.fixture
def small_limits(served: Served) -> Iterator[TestClient]:
    """An app over the same model and store whose settings allow k <= 7 and offset + k <= 9."""
    from anyseek.api.app import create_app

    search = served.settings.search.model_copy(update={"max_k": 7, "max_window": 9})
    settings: Settings = served.settings.model_copy(update={"search": search})
    model = served.client.app.state.anyseek.searcher.model
    searcher = Searcher(model, served.store, settings.search, settings.api.max_query_pixels)
    with TestClient(create_app(settings, searcher=searcher, database=served.database)) as client:
        yield client


def _search(client: TestClient, **params) -> object:
    body = {"parts": [{"modality": "caption", "text": "a red cube"}], **params}
    return client.post(SEARCH, json=body)


def test_a_changed_setting_changes_the_document_and_the_check(small_limits: TestClient) -> None:
    assert _limits(small_limits.get("/openapi.json").json()) == {"k": 7, "offset": 8}
    assert _search(small_limits, k=7).status_code == 200
    too_many = _search(small_limits, k=8)
    assert too_many.status_code == 422
    assert too_many.headers["content-type"] == "application/problem+json"
    assert (
        too_many.json()["field"] == "body.k" and "k must be at most 7" in too_many.json()["detail"]
    )
    too_deep = _search(small_limits, k=5, offset=5)
    assert too_deep.status_code == 422 and too_deep.json()["field"] == "body.offset"
    form = small_limits.post(f"{SEARCH}/upload", data={"caption": "a cube", "params": '{"k": 8}'})
    assert form.status_code == 422 and form.json()["field"] == "body.params.k"


def test_a_searcher_with_other_limits_than_the_app_is_refused(served: Served) -> None:
    from anyseek.api.app import create_app

    model = served.client.app.state.anyseek.searcher.model
    other = served.settings.search.model_copy(update={"max_k": 3})
    with pytest.raises(ValueError, match="search settings"):
        create_app(served.settings, searcher=Searcher(model, served.store, other))


def test_unknown_caption_words_come_back_as_warnings(served: Served) -> None:
    body = {"parts": [{"modality": "caption", "text": "a red cube with stripes"}], "k": 3}
    response = served.client.post(SEARCH, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["warnings"] == ['unknown word "stripes"']  # "with" is a word it knows
    assert len(answer["hits"]) == 3  # searched anyway, with the words it reads


def test_synonyms_search_as_the_scene_world_words(served: Served) -> None:
    def hits(text: str) -> tuple[list, list]:
        body = {"parts": [{"modality": "caption", "text": text}], "k": 5}
        answer = served.client.post(SEARCH, json=body).json()
        return [(h["id"], h["score"]) for h in answer["hits"]], answer["warnings"]

    assert hits("a teal pyramid and a grey orb") == hits("a cyan cone and a gray sphere")
    assert hits("a teal pyramid and a grey orb")[1] == []
    assert hits("a teal pyramid")[0] != hits("a red cube")[0]  # the words do change the answer


def test_a_caption_of_unknown_words_only_is_refused_naming_them(served: Served) -> None:
    body = {"parts": [{"modality": "caption", "text": "zebra stripes"}]}
    response = served.client.post(SEARCH, json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert 'unknown word "zebra"' in detail and 'unknown word "stripes"' in detail
