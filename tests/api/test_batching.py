"""The micro-batcher: concurrent searches share one ``search_many`` call, each gets its own
answer or error, and a bad query spoils nothing for the others; also over the real app."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from api_helpers import COLLECTION, Served

from anyseek.api.batching import SearchBatcher, inference_thread
from anyseek.errors import AnyseekError
from anyseek.search.query import QueryPart, SearchQuery


def run_loop(coroutine):
    """Run a coroutine on a fresh event loop in its own thread: the browser tests' Playwright
    keeps a loop running in the main thread of the same pytest process."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _query(text: str) -> SearchQuery:
    return SearchQuery(COLLECTION, (QueryPart("caption", text),))


def test_concurrent_searches_share_one_call_and_keep_their_own_answers() -> None:
    calls: list[list[str]] = []
    release = threading.Event()

    def search_many(queries):
        calls.append([q.parts[0].value for q in queries])
        release.wait(5)  # the first call blocks while the others queue up
        return [
            AnyseekError(f"bad {q.parts[0].value}")
            if "bad" in q.parts[0].value
            else q.parts[0].value.upper()
            for q in queries
        ]

    async def run() -> list:
        batcher = SearchBatcher(search_many, max_batch=16, wait_ms=1)
        batcher.start()
        first = asyncio.ensure_future(batcher.search(_query("first")))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(batcher.search(_query(t))) for t in ("a", "bad b", "c")]
        await asyncio.sleep(0.05)
        release.set()
        answers = await asyncio.gather(first, *rest, return_exceptions=True)
        await batcher.stop()
        return answers

    answers = run_loop(run())
    assert calls == [["first"], ["a", "bad b", "c"]]
    assert answers[0] == "FIRST" and answers[1] == "A" and answers[3] == "C"
    assert isinstance(answers[2], AnyseekError) and str(answers[2]) == "bad bad b"


def test_max_batch_caps_a_call() -> None:
    sizes: list[int] = []

    def search_many(queries):
        sizes.append(len(queries))
        return ["ok"] * len(queries)

    async def run() -> None:
        batcher = SearchBatcher(search_many, max_batch=3, wait_ms=20)
        batcher.start()
        await asyncio.gather(*(batcher.search(_query(str(i))) for i in range(7)))
        await batcher.stop()

    run_loop(run())
    assert sizes == [3, 3, 1]


@pytest.mark.slow
def test_concurrent_requests_are_batched_by_the_app(served: Served) -> None:
    def ask(text: str, out: list) -> None:
        body = {"parts": [{"modality": "caption", "text": text}], "k": 3}
        out.append(served.client.post(f"/v1/collections/{COLLECTION}/search", json=body))

    responses: list = []
    threads = [threading.Thread(target=ask, args=(f"a red cube {i}", responses)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in responses] == [200] * 8
    metrics = served.client.get("/metrics").text
    sizes = [
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("anyseek_search_batch_size_sum")
    ]
    counts = [
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("anyseek_search_batch_size_count")
    ]
    assert sizes[0] >= 8 and counts[0] < sizes[0]  # fewer model calls than searches


def test_the_inference_thread_is_set_up_once_and_runs_every_batch() -> None:
    import torch

    from anyseek.model.service import use_threads

    seen: list[tuple[str, int]] = []

    def search_many(queries):
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        return [q.parts[0].value for q in queries]

    async def run() -> None:
        batcher = SearchBatcher(search_many, executor=inference_thread(lambda: use_threads(1)))
        batcher.start()
        for text in ("a", "b"):
            await batcher.search(_query(text))
        await batcher.stop()

    before = torch.get_num_threads()
    run_loop(run())
    assert [threads for _, threads in seen] == [1, 1]  # set on the inference thread...
    assert seen[0][0] == seen[1][0] and seen[0][0].startswith("anyseek-search")
    assert torch.get_num_threads() == before  # ...not on this one


def test_the_thread_that_loads_the_model_runs_every_batch() -> None:
    """The service loads the model on the inference thread, then batches on it: one OpenMP team
    for all the model's work (a team left on another thread slowed every pass 2x)."""
    import torch

    from anyseek.model.service import use_threads

    executor = inference_thread(lambda: use_threads(1))
    loaded_on = executor.submit(lambda: (threading.get_ident(), torch.get_num_threads())).result()
    seen: list[int] = []

    def search_many(queries):
        seen.append(threading.get_ident())
        return [q.parts[0].value for q in queries]

    async def run() -> list[str]:
        batcher = SearchBatcher(search_many, executor=executor)
        batcher.start()
        answers = [await batcher.search(_query(text)) for text in ("a", "b")]
        await batcher.stop()
        return answers

    assert run_loop(run()) == ["a", "b"]
    assert loaded_on[1] == 1
    assert seen == [loaded_on[0], loaded_on[0]]
    with pytest.raises(RuntimeError):  # stopping the batcher released its thread
        executor.submit(int)
