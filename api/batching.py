"""Micro-batching: concurrent searches' model stage gathered into one ``Searcher.predict`` call.

Requests that arrive while a batch is being predicted form the next batch (up to ``max_batch``),
and ``wait_ms`` (default 0) can hold the first one of a batch longer for others; the batch's
model stage runs on one inference thread, off the event loop, so the model is called by one
thread at a time and queries with the same modalities share one encoder pass. The service also
loads the model on that thread (:func:`inference_thread`), so one OpenMP team does all its work.
Each predicted plan is then finished (store search, fusion, page: ``Searcher.finish``) on
another pool, so the inference thread is free for the next batch meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from anyseek.errors import AnyseekError
from anyseek.search.plan import Plan
from anyseek.search.query import SearchResults

Predict = Callable[[Sequence[Plan]], list]  # the model stage of a batch: plans, or answers
Finish = Callable[[Plan], SearchResults]  # the stages after the model's, per plan


def inference_thread(setup: Callable[[], None] | None = None) -> ThreadPoolExecutor:
    """The one thread that loads and runs the model, set up once by ``setup`` (its intra-op
    threads): loading elsewhere would leave a second OpenMP team whose idle workers slow every
    pass of this one (measured 2x on the 2-core machine)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="anyseek-search", initializer=setup)


class SearchBatcher:
    """Queue of pending searches answered in batches by one background task."""

    def __init__(
        self,
        predict: Predict,
        max_batch: int = 16,
        wait_ms: float = 2.0,
        on_batch: Callable[[int], None] | None = None,
        executor: ThreadPoolExecutor | None = None,
        finish: Finish | None = None,
        finisher: ThreadPoolExecutor | None = None,
    ) -> None:
        """``predict`` runs a batch on ``executor``, the inference thread (shut down with the
        batcher; without one, a new :func:`inference_thread`); ``finish``, when given, answers
        each of its plans on ``finisher`` (the request pool), else ``predict`` answers."""
        self._predict = predict
        self._finish = finish
        self._finisher = finisher
        self.max_batch = max(1, max_batch)
        self.wait_s = max(0.0, wait_ms) / 1000
        self._on_batch = on_batch
        self._queue: asyncio.Queue[tuple[Plan, asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._delivering: set[asyncio.Task] = set()  # batches predicted, being finished
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
        await asyncio.gather(*self._delivering, return_exceptions=True)
        while self._queue is not None and not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(AnyseekError("the server is shutting down"))
        self._executor.shutdown(wait=True)

    async def search(self, query: Plan) -> SearchResults:
        """Answer one query, batched with whatever else arrives meanwhile."""
        if self._queue is None:
            raise RuntimeError("SearchBatcher.start() was not called")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((query, future))
        return await future

    async def search_all(
        self, plans: Sequence[Plan | Exception]
    ) -> list[SearchResults | Exception]:
        """Answer a batch request's plans together: one model batch on the inference thread,
        each answer or error (a plan that could not be made: its error) in its place."""
        if self._queue is None:
            raise RuntimeError("SearchBatcher.start() was not called")
        loop = asyncio.get_running_loop()
        ready = [p for p in plans if not isinstance(p, Exception)]
        found = await self._predicted(loop, ready) if ready else []
        answers = iter(await self._finished_all(loop, found))
        return [p if isinstance(p, Exception) else next(answers) for p in plans]

    async def _run(self) -> None:
        """Collect a batch, predict it on the inference thread, finish it meanwhile; forever."""
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
            found = await self._predicted(loop, [plan for plan, _ in batch])
            # finished meanwhile: the inference thread goes on to the next batch
            delivery = loop.create_task(self._deliver(loop, batch, found))
            self._delivering.add(delivery)
            delivery.add_done_callback(self._delivering.discard)

    async def _predicted(self, loop: asyncio.AbstractEventLoop, plans: Sequence[Plan]) -> list:
        """The batch's model stage on the inference thread: its plans predicted and handed on
        to the request pool from there (one hop less than through the event loop), or its
        answers when there is no finishing stage."""
        try:
            found = await loop.run_in_executor(self._executor, self._predict_and_hand_on, plans)
        except Exception as exc:  # a bug: every request of the batch gets it (-> 500)
            found = [exc] * len(plans)
        if self._on_batch is not None:
            self._on_batch(len(plans))
        return found

    def _predict_and_hand_on(self, plans: Sequence[Plan]) -> list:
        """On the inference thread: predict, then submit each plan's finishing to the pool."""
        found = self._predict(plans)
        if self._finish is None:
            return found
        return [p if isinstance(p, Exception) else self._hand_on(p) for p in found]

    def _hand_on(self, plan: Plan) -> Future:
        """A plan's finishing, submitted to the request pool."""
        assert self._finish is not None
        if self._finisher is None:  # no pool given: finished here (tests, one-off batchers)
            done: Future = Future()
            try:
                done.set_result(self._finish(plan))
            except Exception as exc:
                done.set_exception(exc)
            return done
        return self._finisher.submit(self._finish, plan)

    async def _finished_all(self, loop: asyncio.AbstractEventLoop, found: list) -> list:
        """Every plan's answer: its finishing awaited (answers and errors as they are)."""
        return list(await asyncio.gather(*(_answer_of(item) for item in found)))

    async def _deliver(self, loop: asyncio.AbstractEventLoop, batch: list, found: list) -> None:
        """Finish a predicted batch; every waiting request gets its own answer."""
        answers = await self._finished_all(loop, found)
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the client went away
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)


async def _answer_of(item: object) -> object:
    """An answer as it is, or the result (or error) of a finishing submitted to the pool."""
    if not isinstance(item, Future):
        return item
    try:
        return await asyncio.wrap_future(item)
    except Exception as exc:
        return exc
