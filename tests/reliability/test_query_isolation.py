"""One bad or slow query fails alone with a 4xx; searches batched with it are answered."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from api_helpers import COLLECTION, Served
from hostile import big_flat_png, npy_bomb, npy_bytes, npy_header, slow_segmentation_png

from anyseek.search.inputs import decoded
from anyseek.search.query import QueryPart, SearchInputError, SearchQuery
from anyseek.search.searcher import Searcher

SEARCH = f"/v1/collections/{COLLECTION}/search"
UPLOAD = f"{SEARCH}/upload"


def _json_part(modality: str, data: bytes) -> dict:
    return {"parts": [{"modality": modality, "data": base64.b64encode(data).decode()}]}


def _caption(client, text: str = "a red cube"):
    return client.post(SEARCH, json={"parts": [{"modality": "caption", "text": text}], "k": 3})


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (npy_bomb(), "at most 1 M"),
        (npy_header((10, 10), version=2), "promises 400 bytes"),
        (npy_header((4, 4), dtype="|O"), "must hold numbers"),
        (npy_bytes(np.zeros((200, 200), np.float32))[:200], "promises"),
        (b"\x93NUMPY\x01\x00\xff\xff{garbage", "not a readable .npy"),
    ],
)
def test_lying_npy_headers_are_refused_before_any_allocation(data: bytes, words: str) -> None:
    start = time.perf_counter()
    with pytest.raises(SearchInputError, match=words.replace(".", r"\.")):
        decoded(data, 1_000_000)
    assert time.perf_counter() - start < 0.5


def test_npy_bomb_is_a_422_on_both_routes(guarded: Served) -> None:
    client = guarded.client
    response = client.post(SEARCH, json=_json_part("depth", npy_bomb()))
    assert response.status_code == 422, response.text
    assert "ANYSEEK_API__MAX_QUERY_PIXELS" in response.json()["detail"]
    response = client.post(UPLOAD, files={"depth": ("d.npy", npy_bomb())})
    assert response.status_code == 422, response.text


def test_query_pixel_limit_is_its_own_and_lower(guarded: Served) -> None:
    over = big_flat_png(1100, 1000, "L")  # 1.1 MP: over this app's 1 MP query limit
    response = guarded.client.post(UPLOAD, files={"sketch": ("s.png", over)})
    assert response.status_code == 422, response.text
    assert "1.1 MP" in response.json()["detail"]
    assert guarded.settings.api.max_image_pixels > guarded.settings.api.max_query_pixels


def test_bad_queries_do_not_harm_the_good_ones_batched_with_them(guarded: Served) -> None:
    client = guarded.client
    hostile = [
        lambda: client.post(SEARCH, json=_json_part("depth", npy_bomb())),
        lambda: client.post(UPLOAD, files={"depth": ("d.npy", npy_bomb())}),
        lambda: client.post(SEARCH, json=_json_part("semseg", b"\x89PNG\r\n\x1a\n" + b"0" * 64)),
    ]
    calls = []
    for i in range(12):  # good and hostile interleaved, so they share batches
        calls += [(False, lambda: _caption(client)), (True, hostile[i % 3])]
        calls += [(False, lambda: _caption(client))]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda call: (call[0], call[1]()), calls))
    codes = [(bad, r.status_code) for bad, r in responses]
    assert all(code == (422 if bad else 200) for bad, code in codes), codes


def test_a_slow_decode_times_out_alone_and_never_holds_the_model(guarded: Served) -> None:
    slow = slow_segmentation_png(999, 1000)  # under the pixel limit, ~0.3 s to decode
    client = guarded.client
    with ThreadPoolExecutor(4) as pool:
        slow_calls = [
            pool.submit(client.post, UPLOAD, files={"semseg": ("s.png", slow)}) for _ in range(3)
        ]
        time.sleep(0.05)
        start = time.perf_counter()
        quick = _caption(client)
        caption_s = time.perf_counter() - start
        slow_answers = [f.result() for f in slow_calls]
    assert quick.status_code == 200, quick.text
    assert caption_s < 2.0, caption_s  # did not wait behind three slow decodes
    assert all(r.status_code == 422 for r in slow_answers)
    assert any("QUERY_DECODE_TIMEOUT_S" in r.json()["detail"] for r in slow_answers)


def test_searcher_answers_the_good_query_beside_a_failing_plan(guarded: Served, search_model):
    searcher = Searcher(search_model, guarded.store, guarded.settings.search, 1_000_000)
    good = SearchQuery(COLLECTION, (QueryPart("caption", "a blue sphere"),), k=2)
    bomb = SearchQuery(COLLECTION, (QueryPart("depth", npy_bomb()),), k=2)
    answers = searcher.search_many([good, bomb, searcher.prepare(good)])
    assert len(answers[0].hits) == 2 and len(answers[2].hits) == 2
    assert isinstance(answers[1], SearchInputError)
