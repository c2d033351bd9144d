"""Concurrent requests to the real app share model calls (the runner's own behaviour is in
tests/search/test_runner.py)."""

from __future__ import annotations

import threading

import pytest
from api_helpers import COLLECTION, Served


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
