"""A lean HTTP/1.1 load generator for the search bench: keep-alive connections on asyncio
protocols, each request encoded once, each answer read by its ``Content-Length``.

On a 2-core machine the load generator shares the cores with the server it measures: httpx spent
about 1.5-1.9 ms of CPU per search (``bench/results/search.md`` before this client), a quarter of
the machine at 200 searches/s, which the server then lacked. This client spends well under a
tenth of that, so the searches/s measured are the server's. It speaks just what ``anyseek
serve`` answers (a ``Content-Length`` on every response); it is not a general HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Answer:
    """One response: status and body."""

    status: int
    body: bytes = b""

    def json(self) -> dict:
        return json.loads(self.body)


class _Connection(asyncio.Protocol):
    """One keep-alive connection asking one request at a time."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Answer] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            self._fail(ConnectionError("a response without Content-Length"))
            return
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
        if len(self.buffer) < end + 4 + length:
            return
        answer = Answer(int(head[9:12]), bytes(self.buffer[end + 4 : end + 4 + length]))
        del self.buffer[: end + 4 + length]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("the server closed the connection"))

    async def ask(self, request: bytes) -> Answer:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def encode_post(url: str, body: dict) -> bytes:
    """A JSON POST to ``url`` as the bytes sent on the wire."""
    parts = urlsplit(url)
    data = json.dumps(body).encode()
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def connect(url: str) -> _Connection:
    """A new connection to ``url``'s host and port."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(_Connection, parts.hostname, parts.port)
    return connection


@dataclass
class Load:
    """What a run of concurrent clients got: answered (200), errors, each request's ms."""

    done: int = 0
    errors: int = 0
    ms: list[float] = field(default_factory=list)


async def run_clients(url: str, bodies: list[dict], clients: int, seconds: float) -> Load:
    """``clients`` connections to ``url``, each asking ``bodies`` in turn (each client starting at
    its own offset) until ``seconds`` have passed."""
    encoded = [encode_post(url, body) for body in bodies]
    load = Load()
    stop_at = time.monotonic() + seconds

    async def client(i: int) -> None:
        connection = await connect(url)
        j = i
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            try:
                ok = (await connection.ask(encoded[j % len(encoded)])).status == 200
            except ConnectionError:
                ok = False
                connection = await connect(url)
            load.ms.append((time.perf_counter() - start) * 1000)
            load.done += ok
            load.errors += not ok
            j += clients
        assert connection.transport is not None
        connection.transport.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return load


async def ask_each(url: str, bodies: list[dict]) -> list[tuple[float, Answer]]:
    """One client asking ``bodies`` one after another: (ms, answer) each."""
    connection = await connect(url)
    out = []
    for body in bodies:
        request = encode_post(url, body)
        start = time.perf_counter()
        answer = await connection.ask(request)
        out.append(((time.perf_counter() - start) * 1000, answer))
    assert connection.transport is not None
    connection.transport.close()
    return out


def tree_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of process ``pid`` and every process below it, from
    ``/proc`` (None elsewhere): a server with ``--workers`` is several processes."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(tree_cpu_s(int(child)) or 0.0 for child in children)
    return total


def tree_cpu_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds of process ``pid`` and every process below it, per OS thread name with its
    number left off (``anyseek-query_0`` -> ``anyseek-query``), from ``/proc`` (empty
    elsewhere)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip().rstrip("0123456789").rstrip("_-")
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            children = (task / "children").read_text().split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        for child in children:
            for key, seconds in tree_cpu_by_thread(int(child)).items():
                out[key] = out.get(key, 0.0) + seconds
    return out
