"""The request pool: a query resolved and planned per request, before the micro-batch, and
answered after it, on threads of its own; the inference thread does the model's work alone.

Every query is prepared here (``Searcher.prepare``: its collection's version resolved, its parts
decoded into model inputs) on a small pool (``ANYSEEK_API__QUERY_DECODE_WORKERS``), one with
files within a time limit (``ANYSEEK_API__QUERY_DECODE_TIMEOUT_S``): a bad or slow file fails
alone, and only ready plans join the batch. After the batch's model pass, each plan's store
search, fusion and page (``Searcher.finish``) run on the same pool, so the inference thread
goes on to the next batch meanwhile.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from anyseek.api.errors import ApiError
from anyseek.model.service import query_kind, use_threads
from anyseek.search.plan import Plan
from anyseek.search.query import SearchQuery
from anyseek.search.searcher import Searcher


def has_files(query: SearchQuery) -> bool:
    """Whether a query has a part given as a file (what is worth decoding off the batch)."""
    for part in query.parts:
        kind = query_kind(part.modality)
        if kind is not None and kind.value == "file":
            return True
    return False


class QueryDecoder:
    """Prepares queries (and finishes predicted plans) on its own threads; a query with files
    within the decode time limit."""

    def __init__(self, searcher: Searcher, workers: int = 2, timeout_s: float = 5.0) -> None:
        self.searcher = searcher
        self.timeout_s = timeout_s
        self.executor = ThreadPoolExecutor(  # one intra-op thread each: the cores are the model's
            workers,
            thread_name_prefix="anyseek-query",
            initializer=_one_thread,
            initargs=(searcher,),
        )

    async def prepare(self, query: SearchQuery) -> Plan:
        """The query resolved and planned for the batch (errors raised here, for this request
        alone)."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self.executor, self.searcher.prepare, query)
        if not has_files(query):
            return await work
        try:
            return await asyncio.wait_for(work, self.timeout_s)
        except TimeoutError:
            raise ApiError(
                422,
                f"decoding the query's files took longer than {self.timeout_s:g} s "
                "(ANYSEEK_API__QUERY_DECODE_TIMEOUT_S): send a smaller or simpler file",
            ) from None

    async def prepare_all(self, queries: list[SearchQuery]) -> list[Plan | Exception]:
        """Each query prepared as :meth:`prepare` does, its error in its place."""
        found = await asyncio.gather(*(self.prepare(q) for q in queries), return_exceptions=True)
        return [p if isinstance(p, Plan) else _as_error(p) for p in found]

    def close(self) -> None:
        """Stop taking work; decodes still running end on their own."""
        self.executor.shutdown(wait=False, cancel_futures=True)


def _as_error(found: BaseException) -> Exception:
    """A failed preparation as the exception its answer carries (a cancelled one re-raised)."""
    if not isinstance(found, Exception):
        raise found
    return found


def _one_thread(searcher: Searcher) -> None:
    """Set up a pool thread: one intra-op thread for torch and for the store's searches."""
    use_threads(1)
    searcher.store.use_for_single_queries()
