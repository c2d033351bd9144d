"""The search runner: concurrent searches share one model call and each gets its own answer or
error, a bad query spoils nothing for the others, the thread that loaded the model runs every
batch, and a slow decode fails alone at its limit."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from anyseek.errors import AnyseekError
from anyseek.search.query import QueryPart, SearchQuery
from anyseek.search.runner import DecodeTimeoutError, SearchRunner, inference_thread


def run_loop(coroutine):
    """Run a coroutine on a fresh event loop in its own thread: the browser tests' Playwright
    keeps a loop running in the main thread of the same pytest process."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _query(text: str) -> SearchQuery:
    return SearchQuery("c", (QueryPart("caption", text),))


def _text(query: SearchQuery) -> str:
    return query.parts[0].value


def _runner(predict, **kwargs) -> SearchRunner:
    """A runner whose plans are the queries and whose answers are what ``predict`` made."""
    return SearchRunner(lambda q: q, predict, _finish, **kwargs)


def _finish(found):
    if isinstance(found, SearchQuery):
        return _text(found)
    return found


def test_concurrent_searches_share_one_call_and_keep_their_own_answers() -> None:
    calls: list[list[str]] = []
    release = threading.Event()

    def predict(plans):
        calls.append([_text(p) for p in plans])
        release.wait(5)  # the first call blocks while the others queue up
        return [
            AnyseekError(f"bad {_text(p)}") if "bad" in _text(p) else _text(p).upper()
            for p in plans
        ]

    async def run() -> list:
        runner = _runner(predict, max_batch=16)
        first = asyncio.ensure_future(runner.search(_query("first")))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(runner.search(_query(t))) for t in ("a", "bad b", "c")]
        await asyncio.sleep(0.05)
        release.set()
        answers = await asyncio.gather(first, *rest, return_exceptions=True)
        runner.close()
        return answers

    answers = run_loop(run())
    assert calls[0] == ["first"] and sorted(calls[1]) == ["a", "bad b", "c"]
    assert answers[0] == "FIRST" and answers[1] == "A" and answers[3] == "C"
    assert isinstance(answers[2], AnyseekError) and str(answers[2]) == "bad bad b"


def test_max_batch_caps_a_call() -> None:
    sizes: list[int] = []
    release = threading.Event()

    def predict(plans):
        sizes.append(len(plans))
        release.wait(5)
        return ["ok"] * len(plans)

    async def run() -> None:
        runner = _runner(predict, max_batch=3)
        first = asyncio.ensure_future(runner.search(_query("first")))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(runner.search(_query(str(i)))) for i in range(7)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(first, *rest)
        runner.close()

    run_loop(run())
    assert sizes == [1, 3, 3, 1]


@pytest.mark.parametrize("join_ms", [0, 5000])
def test_searches_still_being_prepared_join_the_batch_and_a_lone_one_waits_for_none(
    join_ms: float,
) -> None:
    sizes: list[int] = []

    def predict(plans):
        sizes.append(len(plans))
        return list(plans)

    slow_started = threading.Event()

    def prepare(query):
        if _text(query) == "quick":  # queued only once the slow one has been handed over
            slow_started.wait(5)
        if _text(query) == "slow":
            slow_started.set()
            time.sleep(0.2)  # its file still decoding when the quick one's plan is queued
        return query

    async def run() -> tuple[list, float]:
        runner = SearchRunner(prepare, predict, _finish, workers=2, join_ms=join_ms)
        together = await asyncio.gather(
            runner.search(_query("quick")), runner.search(_query("slow"))
        )
        start = time.monotonic()
        alone = await runner.search(_query("alone"))
        waited = time.monotonic() - start
        runner.close()
        return [*together, alone], waited

    answers, waited = run_loop(run())
    assert answers == ["quick", "slow", "alone"]
    assert sizes == ([2, 1] if join_ms else [1, 1, 1])  # joined, or each its own call
    assert waited < 2.5  # alone, nothing was being prepared: no wait for the 5 s


def test_a_batch_request_is_one_model_call() -> None:
    sizes: list[int] = []

    def predict(plans):
        sizes.append(len(plans))
        return list(plans)

    def prepare(query):
        if _text(query) == "bad":
            raise AnyseekError("bad query")
        time.sleep(0.01)  # plans made one after another: still one batch
        return query

    async def run() -> list:
        runner = SearchRunner(prepare, predict, _finish, max_batch=2)
        answers = await runner.search_all([_query(t) for t in ("a", "bad", "b", "c", "d")])
        runner.close()
        return answers

    answers = run_loop(run())
    assert sizes == [4]  # every plan made, in one call, past max_batch
    assert [a if isinstance(a, str) else type(a) for a in answers] == [
        "a",
        AnyseekError,
        "b",
        "c",
        "d",
    ]


def test_a_query_whose_files_decode_too_long_fails_alone() -> None:
    def prepare(query):
        if _text(query) == b"slow":
            time.sleep(0.5)
        return query

    async def run() -> list:
        runner = SearchRunner(prepare, list, _finish, decode_timeout_s=0.1)
        slow = SearchQuery("c", (QueryPart("sketch", b"slow"),))
        answers = await asyncio.gather(
            runner.search(slow), runner.search(_query("fast")), return_exceptions=True
        )
        runner.close()
        return answers

    slow, fast = run_loop(run())
    assert isinstance(slow, DecodeTimeoutError) and "QUERY_DECODE_TIMEOUT_S" in str(slow)
    assert fast == "fast"


def test_files_decode_on_threads_of_their_own_and_hold_up_no_caption() -> None:
    """Every finish and every file-less plan run on the one query thread; files decode beside
    it, so a caption is answered while two large files are still decoding."""
    threads: dict[str, set[str]] = {"prepare": set(), "finish": set()}
    decoding = threading.Event()
    release = threading.Event()

    def prepare(query):
        threads["prepare"].add(threading.current_thread().name.rsplit("_", 1)[0])
        if isinstance(_text(query), bytes):
            decoding.set()
            release.wait(5)
        return query

    def finish(found):
        threads["finish"].add(threading.current_thread().name.rsplit("_", 1)[0])
        return _finish(found)

    async def run() -> tuple[str, bool, list]:
        runner = SearchRunner(prepare, list, finish, workers=2, decode_timeout_s=10)
        files = [
            asyncio.ensure_future(runner.search(SearchQuery("c", (QueryPart("sketch", b"x"),))))
            for _ in range(2)
        ]
        await asyncio.get_running_loop().run_in_executor(None, decoding.wait, 5)
        caption = await asyncio.wait_for(runner.search(_query("fast")), 5)
        still_decoding = not any(f.done() for f in files)
        release.set()
        rest = await asyncio.gather(*files)
        runner.close()
        return caption, still_decoding, rest

    caption, still_decoding, rest = run_loop(run())
    assert caption == "fast" and still_decoding and len(rest) == 2
    assert threads["prepare"] == {"anyseek-query", "anyseek-decode"}
    assert threads["finish"] == {"anyseek-query"}


def test_the_thread_that_loads_the_model_runs_every_batch() -> None:
    """The service loads the model on the inference thread, then batches on it: one OpenMP team
    for all the model's work (a team left on another thread slowed every pass 2x)."""
    import torch

    from anyseek.model.service import use_threads

    executor = inference_thread(lambda: use_threads(1))
    before = torch.get_num_threads()
    loaded_on = executor.submit(lambda: (threading.get_ident(), torch.get_num_threads())).result()
    seen: list[int] = []

    def predict(plans):
        seen.append(threading.get_ident())
        return list(plans)

    async def run() -> list[str]:
        runner = _runner(predict, inference=executor)
        answers = [await runner.search(_query(text)) for text in ("a", "b")]
        runner.close()
        return answers

    assert run_loop(run()) == ["a", "b"]
    assert loaded_on[1] == 1 and torch.get_num_threads() == before  # set there, not here
    assert seen == [loaded_on[0], loaded_on[0]]
    with pytest.raises(RuntimeError):  # closing the runner released its thread
        executor.submit(int)


def test_a_closed_runner_refuses_searches() -> None:
    async def run() -> None:
        runner = _runner(list)
        assert await runner.search(_query("a")) == "a"
        runner.close()
        with pytest.raises(AnyseekError, match="shutting down"):
            await runner.search(_query("b"))

    run_loop(run())
