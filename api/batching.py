"""Micro-batching: concurrent search requests gathered into one ``Searcher.search_many`` call.

Requests that arrive while a batch is being answered form the next batch (up to ``max_batch``),
and ``wait_ms`` (default 0) can hold the first one of a batch longer for others; the batch runs on
one inference thread, off the event loop, so the model is called by one
thread at a time and queries with the same modalities share one encoder pass. The service also
loads the model on that thread (:func:`inference_thread`), so one OpenMP team does all its work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from anyseek.errors import AnyseekError
from search.query import SearchQuery, SearchResults
from search.searcher import Plan

Query = SearchQuery | Plan  # a plan: a query whose files were already decoded (api.decoding)
SearchMany = Callable[[Sequence[Query]], list[SearchResults | Exception]]


def inference_thread(setup: Callable[[], None] | None = None) -> ThreadPoolExecutor:
    """The one thread that loads and runs the model, set up once by ``setup`` (its intra-op
    threads): loading elsewhere would leave a second OpenMP team whose idle workers slow every
    pass of this one (measured 2x on the 2-core machine)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="anyseek-search", initializer=setup)


class SearchBatcher:
    """Queue of pending searches answered in batches by one background task."""

    def __init__(
        self,
        search_many: SearchMany,
        max_batch: int = 16,
        wait_ms: float = 2.0,
        on_batch: Callable[[int], None] | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        """``executor``: the inference thread to run on (it is shut down with the batcher);
        without one, a new :func:`inference_thread`."""
        self._search_many = search_many
        self.max_batch = max(1, max_batch)
        self.wait_s = max(0.0, wait_ms) / 1000
        self._on_batch = on_batch
        self._queue: asyncio.Queue[tuple[Query, asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._executor = executor or inference_thread()

    def start(self) -> None:
        """Start the background task (inside the running event loop)."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the task, fail what is still queued, and release the inference thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._queue is not None and not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(AnyseekError("the server is shutting down"))
        self._executor.shutdown(wait=True)

    async def search(self, query: Query) -> SearchResults:
        """Answer one query, batched with whatever else arrives meanwhile."""
        if self._queue is None:
            raise RuntimeError("SearchBatcher.start() was not called")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((query, future))
        return await future

    async def search_all(
        self, queries: Sequence[SearchQuery]
    ) -> list[SearchResults | AnyseekError]:
        """Answer a batch request's queries together: one ``search_many`` call (one model
        batch) on the inference thread, each answer or error in its query's place."""
        if self._queue is None:
            raise RuntimeError("SearchBatcher.start() was not called")
        if not queries:
            return []
        loop = asyncio.get_running_loop()
        answers = await loop.run_in_executor(self._executor, self._search_many, queries)
        if self._on_batch is not None:
            self._on_batch(len(queries))
        return answers

    async def _run(self) -> None:
        """Collect a batch, answer it in the inference thread, resolve its futures; forever."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.wait_s
            while len(batch) < self.max_batch:
                if not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            await self._answer(loop, batch)

    async def _answer(self, loop: asyncio.AbstractEventLoop, batch: list) -> None:
        """One ``search_many`` call for the batch; every waiting request gets its own answer."""
        queries = [query for query, _ in batch]
        try:
            answers = await loop.run_in_executor(self._executor, self._search_many, queries)
        except Exception as exc:  # a bug: every request of the batch gets it (-> 500)
            answers = [exc] * len(batch)
        if self._on_batch is not None:
            self._on_batch(len(batch))
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the client went away
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
