"""Concurrent search clients against the API host, 1 query in 10 hostile, every answer recorded:
the one load generator of the multi-host fault tests and ``bench/reliability.py``.

A good query must be answered (200), or refused with a 503 that says when to retry
(``Retry-After``) while a part it needs is down; when the API host itself is down a client cannot
connect at all ("unreachable", what a load balancer in front turns into a 503). Anything else
harms it: a 500, a 503 without ``Retry-After``, a hang past the client's timeout, a reset.
A hostile query must get a 4xx (or that same 503), never a 5xx or a hang.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.append(str(Path(__file__).resolve().parents[1] / "reliability"))
from hostile import hostile_requests

CAPTIONS = ("a red cube", "a blue sphere left of a green cone", "two yellow tori", "a cylinder")
HANG_S = 30.0  # a client waiting this long calls it a hang


@dataclass(frozen=True)
class Answer:
    """One query's fate."""

    at: float  # monotonic seconds when it was sent
    good: bool
    outcome: str  # "200", "503+retry-after", "unreachable", "hang", "reset", or the status
    ms: float
    kind: str = ""  # a hostile query's kind (``hostile.hostile_requests``)


def classify(response: httpx.Response) -> str:
    """A response's outcome: its status, with a 503's Retry-After noted."""
    if response.status_code == 503:
        return "503+retry-after" if response.headers.get("retry-after") else "503 without retry"
    return str(response.status_code)


@dataclass
class Load:
    """``clients`` threads searching ``collection`` until :meth:`stop`."""

    base_url: str
    collection: str
    clients: int = 16
    stream_mb: int = 30
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._hostile = hostile_requests(self.stream_mb)
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True)
            for n in range(self.clients)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=HANG_S + 10)

    def _client(self, index: int) -> None:
        rng = random.Random(index)
        search = f"{self.base_url}/v1/collections/{self.collection}/search"
        timeout = httpx.Timeout(HANG_S, connect=3.0)
        with httpx.Client(timeout=timeout, trust_env=False) as http:
            n = 0
            while not self._stop.is_set():
                n += 1
                bad = n % 10 == index % 10
                start, at, kind = time.perf_counter(), time.monotonic(), ""
                try:
                    if bad:
                        kind, make = self._hostile[rng.randrange(len(self._hostile))]
                        request = make()
                        target = search + ("/upload" if "files" in request else "")
                        outcome = classify(http.post(target, **request))
                    else:
                        body = {"parts": [{"modality": "caption", "text": rng.choice(CAPTIONS)}]}
                        outcome = classify(http.post(search, json=body))
                except httpx.ConnectError:
                    outcome = "unreachable"
                    time.sleep(0.2)
                except httpx.TimeoutException:
                    outcome = "hang"
                except httpx.HTTPError as error:  # e.g. the server closed the connection
                    outcome = f"reset ({type(error).__name__})"
                answer = Answer(at, not bad, outcome, (time.perf_counter() - start) * 1000, kind)
                with self._lock:
                    self.answers.append(answer)
                if outcome == "503+retry-after":
                    time.sleep(0.2)  # a polite client; it would wait Retry-After seconds


def down(answer: Answer, api_down: bool) -> bool:
    """Whether the API host could not answer: not listening, or killed under the request."""
    return answer.outcome == "unreachable" or (api_down and answer.outcome.startswith("reset"))


def harmed(answer: Answer, api_down: bool = False) -> bool:
    """Whether a good query got something other than an answer or an honest refusal."""
    return answer.good and not (
        answer.outcome in ("200", "503+retry-after") or down(answer, api_down)
    )


def bad_hostile(answer: Answer, api_down: bool = False) -> bool:
    """Whether a hostile query got a 5xx other than an honest 503, or hung, or reset."""
    if answer.good or down(answer, api_down):
        return False
    code = answer.outcome
    return (
        code in ("hang", "503 without retry")
        or code.startswith("reset")
        or (code.isdigit() and int(code) >= 500)
    )


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


@dataclass(frozen=True)
class LoadSummary:
    """What the clients saw, over one window of time."""

    queries: int
    good: int
    answered: int  # good queries answered 200
    refused_503: int  # 503 with Retry-After (good or hostile)
    unreachable: int
    five_xx: int  # any 5xx but an honest 503
    hangs: int
    harmed: int
    hostile_bad: int
    p50_ms: float | None
    p99_ms: float | None
    outcomes: dict[str, int]


def summarise(
    answers: list[Answer], start: float = 0.0, end: float = float("inf"), api_down: bool = False
) -> LoadSummary:
    """The answers sent in ``[start, end)``, counted (``api_down``: the API host was killed)."""
    window = [a for a in answers if start <= a.at < end]
    good_ms = [a.ms for a in window if a.good and a.outcome == "200"]
    return LoadSummary(
        queries=len(window),
        good=sum(a.good for a in window),
        answered=len(good_ms),
        refused_503=sum(a.outcome == "503+retry-after" for a in window),
        unreachable=sum(down(a, api_down) for a in window),
        five_xx=sum(a.outcome.isdigit() and int(a.outcome) >= 500 for a in window)
        + sum(a.outcome == "503 without retry" for a in window),
        hangs=sum(a.outcome == "hang" for a in window),
        harmed=sum(harmed(a, api_down) for a in window),
        hostile_bad=sum(bad_hostile(a, api_down) for a in window),
        p50_ms=quantile(good_ms, 0.5),
        p99_ms=quantile(good_ms, 0.99),
        outcomes=dict(Counter(("good " if a.good else "hostile ") + a.outcome for a in window)),
    )
