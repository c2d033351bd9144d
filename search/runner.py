"""The one owner of concurrent searches' execution: ``await runner.search(query)`` per search.

A server (the API; any caller with an event loop) hands each search to a :class:`SearchRunner`
once and awaits one answer. Inside, every search crosses threads the fewest times the stages
allow, without the event loop in between:

1. the request pool prepares it (``Searcher.prepare``: version resolved, parts decoded into
   model inputs) and puts the plan on the batch queue: a query with files on one of the
   ``workers`` decode threads, any other on the one query thread (each thread has one
   intra-op thread);
2. the inference thread (the one that loaded the model, so one OpenMP team does all its work)
   takes every plan waiting, up to ``max_batch`` (and waits ``wait_ms`` more for others when
   set, and up to ``join_ms`` for searches already handed to the pool and still being prepared),
   predicts them in one batched call per model (``Searcher.predict``), and hands each plan back
   to the query thread;
3. the query thread finishes it (``Searcher.finish``: store, fusion, page) and settles the
   caller's future on its loop (one ``call_soon_threadsafe``).

The pool's Python work (every finish, the plans of captions) runs on one thread: a second one
only contended for the interpreter with it and the event loop (under 16 clients on the 2-core
machine, two such threads spent more CPU per search for fewer searches/s). Decoding files,
much of it outside the interpreter and at times slow, has threads of its own, so a large file
holds up no other search.

A query with files must be prepared within ``decode_timeout_s`` or its caller gets a
:class:`DecodeTimeoutError` then (the decode ends on its own and is dropped): a bad or slow
file fails alone. The synchronous entry (CLI, workers, benches) is ``Searcher.search`` /
``Searcher.search_many``: the same three stages, on the caller's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from anyseek.errors import AnyseekError
from anyseek.model.service import query_kind, use_threads
from anyseek.search.plan import Plan
from anyseek.search.query import SearchQuery, SearchResults
from anyseek.search.searcher import Searcher

Prepare = Callable[[SearchQuery], Plan]
Predict = Callable[[Sequence[Plan]], list]  # plans (each its prediction or error)
Finish = Callable[[Plan], SearchResults]
STOP = object()  # put on the batch queue: the inference thread's loop ends


class DecodeTimeoutError(AnyseekError):
    """A query's files took longer to decode than the limit (a 422 over HTTP)."""


def inference_thread(setup: Callable[[], None] | None = None) -> ThreadPoolExecutor:
    """The one thread that loads and runs the model, set up once by ``setup`` (its intra-op
    threads): loading elsewhere would leave a second OpenMP team whose idle workers slow every
    pass of this one (measured 2x on the 2-core machine)."""
    return ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="anyseek-search", initializer=_named(setup)
    )


def _named(setup: Callable[[], None] | None) -> Callable[[], None]:
    """A thread initializer that first gives the OS thread its Python name (``top -H``, and
    ``/proc``'s per-thread CPU the bench reads: the threads it starts, such as the model's
    OpenMP team, inherit it), then runs ``setup``."""

    def initializer() -> None:
        name_os_thread(threading.current_thread().name)
        if setup is not None:
            setup()

    return initializer


def name_os_thread(name: str) -> None:
    """Name the calling thread for the OS (Linux: 15 bytes; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def has_files(query: SearchQuery) -> bool:
    """Whether a query has a part given as a file (what is decoded under the time limit)."""
    for part in query.parts:
        kind = query_kind(part.modality)
        if kind is not None and kind.value == "file":
            return True
    return False


@dataclass(eq=False)
class _Pending:
    """One search in flight: the caller's loop and future, settled once from any thread."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    timer: asyncio.TimerHandle | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    settled: bool = False
    prepared: bool = False  # its plan was made: the decode limit no longer applies

    def settle(self, answer: object) -> None:
        """Hand ``answer`` (a result or an exception) to the caller, from any thread; the
        first answer wins (a timed-out search's late one is dropped)."""
        with self.lock:
            if self.settled:
                return
            self.settled = True
        self.loop.call_soon_threadsafe(self._set, answer)

    def _set(self, answer: object) -> None:
        """On the caller's loop: the future's result or exception (unless it was cancelled)."""
        if self.timer is not None:
            self.timer.cancel()
        if self.future.done():
            return
        if isinstance(answer, BaseException):
            self.future.set_exception(answer)
        else:
            self.future.set_result(answer)

    def time_out(self, error: Exception) -> None:
        """On the loop, at the decode limit: ``error`` unless the plan was made by then."""
        with self.lock:
            if self.prepared or self.settled:
                return
            self.settled = True
        self._set(error)

    @property
    def live(self) -> bool:
        """Whether the caller still waits (not timed out, not gone)."""
        return not self.settled and not self.future.cancelled()


class SearchRunner:
    """Answers concurrent searches with one model batch at a time on the inference thread."""

    def __init__(
        self,
        prepare: Prepare,
        predict: Predict,
        finish: Finish,
        *,
        workers: int = 2,
        max_batch: int = 16,
        wait_ms: float = 0.0,
        join_ms: float = 0.0,
        decode_timeout_s: float = 5.0,
        on_batch: Callable[[int], None] | None = None,
        inference: ThreadPoolExecutor | None = None,
        pool_setup: Callable[[], None] | None = None,
    ) -> None:
        """The stages (a ``Searcher``'s ``prepare``, ``predict``, ``finish``); ``inference``
        runs the batches (shut down with the runner; without one, a new
        :func:`inference_thread`); ``pool_setup`` sets up each request-pool thread."""
        self._prepare, self._predict, self._finish = prepare, predict, finish
        self.max_batch = max(1, max_batch)
        self.wait_s = max(0.0, wait_ms) / 1000
        self.join_s = max(0.0, join_ms) / 1000
        self._preparing = _Count()  # searches handed to the pool whose plan is not queued yet
        self.decode_timeout_s = decode_timeout_s
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._query_thread = ThreadPoolExecutor(
            1, thread_name_prefix="anyseek-query", initializer=_named(pool_setup)
        )  # every finish and the file-less plans
        self._decoders = ThreadPoolExecutor(
            max(1, workers), thread_name_prefix="anyseek-decode", initializer=_named(pool_setup)
        )  # the plans of queries with files
        self._inference = inference or inference_thread()
        self._batches: Future = self._inference.submit(self._serve_batches)
        self._closed = False

    # --- the one entry --------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> SearchResults:
        """Answer one query, batched with whatever else arrives meanwhile."""
        if self._closed:
            raise AnyseekError("the server is shutting down")
        loop = asyncio.get_running_loop()
        pending = _Pending(loop, loop.create_future())
        self._preparing.add(1)
        self._lane(query, pending, loop).submit(self._prepare_and_queue, query, pending)
        return await pending.future

    async def search_all(self, queries: Sequence[SearchQuery]) -> list[SearchResults | Exception]:
        """Several queries answered through one model batch (a batch request): each query
        prepared on the pool, all predicted together, each answer or error in its place."""
        if self._closed:
            raise AnyseekError("the server is shutting down")
        if not queries:
            return []
        loop = asyncio.get_running_loop()
        group = _Group(len(queries))
        waiting = []
        for query in queries:
            pending = _Pending(loop, loop.create_future())
            self._lane(query, pending, loop).submit(self._prepare_into, query, pending, group)
            waiting.append(pending.future)
        found = await asyncio.gather(*waiting, return_exceptions=True)
        return [_as_answer(answer) for answer in found]

    def close(self) -> None:
        """Stop the inference thread's loop (what is queued gets an error) and the pool."""
        self._closed = True
        self._queue.put(STOP)
        self._batches.result()
        self._inference.shutdown(wait=True)
        self._query_thread.shutdown(wait=False, cancel_futures=True)
        self._decoders.shutdown(wait=False, cancel_futures=True)

    # --- the stages, on their threads -----------------------------------------------------

    def _lane(
        self, query: SearchQuery, pending: _Pending, loop: asyncio.AbstractEventLoop
    ) -> ThreadPoolExecutor:
        """Where ``query`` is prepared: a query with files on the decode threads (its decode
        limit starts now, set on ``pending``); any other on the query thread."""
        if not has_files(query):
            return self._query_thread
        pending.timer = loop.call_later(self.decode_timeout_s, self._time_out, pending)
        return self._decoders

    def _time_out(self, pending: _Pending) -> None:
        """On the loop, ``decode_timeout_s`` after a query with files came: fail it unless its
        plan was made (the decode goes on and its plan is dropped)."""
        pending.time_out(
            DecodeTimeoutError(
                f"decoding the query's files took longer than {self.decode_timeout_s:g} s "
                "(ANYSEEK_API__QUERY_DECODE_TIMEOUT_S): send a smaller or simpler file"
            )
        )

    def _prepare_and_queue(self, query: SearchQuery, pending: _Pending) -> None:
        """On the pool: the query's plan, onto the batch queue (its error to the caller)."""
        try:
            plan = self._plan(query, pending)
        finally:
            self._preparing.add(-1)  # before the put: the batch it joins waits for no one else
        if plan is not None:
            self._queue.put([(plan, pending)])

    def _plan(self, query: SearchQuery, pending: _Pending) -> Plan | None:
        """On the pool: the query's plan, or None (its error settled, or its caller gone)."""
        try:
            plan = self._prepare(query)
        except Exception as exc:
            pending.settle(exc)
            return None
        with pending.lock:
            pending.prepared = True
            return plan if pending.live else None

    def _prepare_into(self, query: SearchQuery, pending: _Pending, group: _Group) -> None:
        """On the pool: one query of a group; the last one made puts the group on the queue
        (its plans are predicted together)."""
        plan = self._plan(query, pending)
        ready = group.add(plan, pending)
        if ready:
            self._queue.put(ready)

    def _serve_batches(self) -> None:
        """On the inference thread until closed: each batch predicted, its plans handed back
        to the pool to finish."""
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            live = [(plan, pending) for plan, pending in batch if pending.live]
            if not live:
                continue
            try:
                found = self._predict([plan for plan, _ in live])
            except Exception as exc:  # a bug: every search of the batch gets it (-> 500)
                found = [exc] * len(live)
            if self._on_batch is not None:
                with contextlib.suppress(Exception):  # a metric must not stop the batches
                    self._on_batch(len(live))
            for (_, pending), plan in zip(live, found, strict=True):
                if isinstance(plan, Exception):
                    pending.settle(plan)
                else:
                    self._query_thread.submit(self._finish_and_settle, plan, pending)

    def _next_batch(self) -> list[tuple[Plan, _Pending]] | None:
        """Every plan waiting (up to ``max_batch``): ``wait_s`` more for the first's batch to
        fill, and up to ``join_s`` while searches that have arrived are still being prepared
        (they join this batch instead of waiting for the next); None once closed (what is
        still queued gets an error)."""
        first = self._queue.get()
        if first is STOP:
            self._fail_queued()
            return None
        batch = list(first)  # a group (a batch request's) is never split
        start = time.monotonic()
        while len(batch) < self.max_batch:
            until = start + (
                max(self.wait_s, self.join_s) if self._preparing.value else self.wait_s
            )
            try:
                remaining = until - time.monotonic()
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is STOP:
                self._queue.put(STOP)  # ends the loop after this batch
                break
            batch += item
        return batch

    def _fail_queued(self) -> None:
        """At close: every search still queued gets an error."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            for _, pending in [] if item is STOP else item:
                pending.settle(AnyseekError("the server is shutting down"))

    def _finish_and_settle(self, plan: Plan, pending: _Pending) -> None:
        """On the pool: a predicted plan's answer (or error) to its caller."""
        try:
            answer: object = self._finish(plan)
        except Exception as exc:
            answer = exc
        pending.settle(answer)


@dataclass(eq=False)
class _Count:
    """A counter that threads change together."""

    value: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, n: int) -> None:
        """Add ``n`` (negative: take away)."""
        with self.lock:
            self.value += n


@dataclass(eq=False)
class _Group:
    """The plans of one batch request, gathered as the pool makes them."""

    left: int
    plans: list[tuple[Plan, _Pending]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, plan: Plan | None, pending: _Pending) -> list[tuple[Plan, _Pending]] | None:
        """Count one query in (its plan, or None when it failed); the group's plans once the
        last is in (None before, or when none was made)."""
        with self.lock:
            if plan is not None:
                self.plans.append((plan, pending))
            self.left -= 1
            return self.plans if self.left == 0 and self.plans else None


def _as_answer(found: object) -> SearchResults | Exception:
    """A gathered answer as it is, a cancellation re-raised."""
    if isinstance(found, BaseException) and not isinstance(found, Exception):
        raise found
    return found  # type: ignore[return-value]


def runner_for(searcher: Searcher, **options: Any) -> SearchRunner:
    """A runner of ``searcher``'s stages (``options``: the runner's own keywords), its pool's
    threads set up for one query at a time (one intra-op thread each for torch and the store:
    the cores are the model's)."""

    def one_thread() -> None:
        use_threads(1)
        searcher.store.use_for_single_queries()

    stages = (searcher.prepare, searcher.predict, searcher.finish)
    return SearchRunner(*stages, pool_setup=one_thread, **options)
