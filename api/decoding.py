"""Query files decoded per request, before the micro-batch: a bad or slow file fails alone.

A query with file parts (sketch, depth, segmentation, image...) is decoded here, on a small pool
of its own (``ANYSEEK_API__QUERY_DECODE_WORKERS``) with a time limit
(``ANYSEEK_API__QUERY_DECODE_TIMEOUT_S``); only its ready model inputs join the batch, so the
model's thread never waits on one decode and one failing file never fails another search. Text
and JSON-only queries skip the pool (their transforms are cheap) and are prepared in the batch.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from api.errors import ApiError
from model.service import query_kind, use_threads
from search.query import SearchQuery
from search.searcher import Plan
from search.versions import VersionedSearcher


def has_files(query: SearchQuery) -> bool:
    """Whether a query has a part given as a file (what is worth decoding off the batch)."""
    for part in query.parts:
        kind = query_kind(part.modality)
        if kind is not None and kind.value == "file":
            return True
    return False


class QueryDecoder:
    """Prepares queries with files on its own threads, each within the decode time limit."""

    def __init__(
        self, searcher: VersionedSearcher, workers: int = 2, timeout_s: float = 5.0
    ) -> None:
        self.searcher = searcher
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(  # one intra-op thread each: the cores are the model's
            workers,
            thread_name_prefix="anyseek-query-decode",
            initializer=use_threads,
            initargs=(1,),
        )

    async def prepare(self, query: SearchQuery) -> SearchQuery | Plan:
        """The query ready for the batch: a :class:`Plan` with decoded inputs when it has files
        (errors raised here, for this request alone), else the query itself."""
        if not has_files(query):
            return query
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self.searcher.prepare, query)
        try:
            return await asyncio.wait_for(work, self.timeout_s)
        except TimeoutError:
            raise ApiError(
                422,
                f"decoding the query's files took longer than {self.timeout_s:g} s "
                "(ANYSEEK_API__QUERY_DECODE_TIMEOUT_S): send a smaller or simpler file",
            ) from None

    def close(self) -> None:
        """Stop taking work; decodes still running end on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)
