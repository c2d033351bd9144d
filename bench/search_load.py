"""The load part of ``bench/search.py``: each server under 16 clients of two kinds, its CPU per
search (process tree) and, for this tree's server, per layer (its threads are named).

* the **lean** client (``bench/http_load.py``): JSON captions and sketches, each request encoded
  once, about 0.1 ms of CPU per request, so the searches/s are the server's;
* an **ordinary** client (``bench/httpx_load.py``): httpx on asyncio, captions as JSON and
  sketches as multipart uploads, as users' clients are (a few ms of CPU per request, taken
  from the same cores).

This tree's server names its threads (``anyseek.search.runner``), so its CPU splits into the
event loop (HTTP parsing, routing and middleware, JSON and multipart, pydantic: the process's
main thread and any unnamed one), the request pool (``anyseek-query``: version resolve, query
decoding, store search, fusion, page) and the model (``anyseek-search`` and its OpenMP team).
"""

from __future__ import annotations

import asyncio
import resource
import statistics
from dataclasses import dataclass, field

from bench import http_load, httpx_load

LAYERS = {
    "anyseek-query": "request pool",
    "anyseek-decode": "request pool",
    "anyseek-search": "model",
}  # every other thread: the event loop and the rest
OTHER = "event loop"
LAYER_NAMES = tuple(dict.fromkeys((OTHER, *LAYERS.values())))  # each layer once, in order


@dataclass
class LoadResult:
    """One server under one client kind."""

    server: str
    client: str
    searches_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_ms: float | None  # server CPU ms per search (process tree)
    client_ms: float  # the load generator's CPU ms per search
    layers: dict[str, float] = field(default_factory=dict)  # server CPU ms per search per layer
    processes: int = 1


def own_cpu_s() -> float:
    """CPU seconds this process (the load generator) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def by_layer(seconds: dict[str, float]) -> dict[str, float]:
    """Per-thread-name CPU seconds summed into the layers."""
    out: dict[str, float] = {}
    for name, spent in seconds.items():
        layer = LAYERS.get(name, OTHER)
        out[layer] = out.get(layer, 0.0) + spent
    return out


def processes_of(pid: int) -> int:
    """The server's processes that serve: ``pid`` and its children, less multiprocessing's
    resource tracker."""
    from pathlib import Path

    count = 1
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            count += b"resource_tracker" not in command
    return count


def run_load(
    server: str,
    client: str,
    pid: int,
    url: str,
    work: list,
    clients: int,
    seconds: float,
) -> LoadResult:
    """``clients`` clients of kind ``client`` (``lean``: JSON ``work`` bodies; ``ordinary``:
    httpx ``work`` asks) on the collection at ``url`` for ``seconds`` after a 3-second warm-up."""

    def go(for_s: float) -> http_load.Load:
        if client == "lean":
            return asyncio.run(http_load.run_clients(f"{url}/search", work, clients, for_s))
        return asyncio.run(httpx_load.run_clients(url, work, clients, for_s))

    go(3)
    before, threads_before, client_before = (
        http_load.tree_cpu_s(pid),
        http_load.tree_cpu_by_thread(pid),
        own_cpu_s(),
    )
    load = go(seconds)
    after, threads_after = http_load.tree_cpu_s(pid), http_load.tree_cpu_by_thread(pid)
    client_s = own_cpu_s() - client_before
    done = max(1, load.done)
    server_ms = (after - before) * 1000 / done if before is not None and after is not None else None
    spent = {k: v - threads_before.get(k, 0.0) for k, v in threads_after.items()}
    layers = {k: v * 1000 / done for k, v in by_layer(spent).items()}
    ordered = sorted(load.ms) or [0.0]
    return LoadResult(
        server,
        client,
        load.done / seconds,
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        load.errors,
        server_ms,
        client_s * 1000 / done,
        layers,
        processes_of(pid),
    )


def load_row(size: int, r: LoadResult) -> str:
    """A row of the load table."""
    server = f"{r.server_ms:.2f}" if r.server_ms is not None else ""
    return (
        f"| {size:,} | {r.server} | {r.processes} | {r.client} | {r.searches_s:.1f} | "
        f"{r.p50_ms:.0f} | {r.p99_ms:.0f} | {r.errors} | {server} | {r.client_ms:.2f} |"
    )


def layer_row(size: int, r: LoadResult) -> str:
    """A row of the per-layer table (this tree's servers only)."""
    shown = " | ".join(f"{r.layers.get(layer, 0.0):.2f}" for layer in LAYER_NAMES)
    total = f"{r.server_ms:.2f}" if r.server_ms is not None else ""
    return f"| {size:,} | {r.server} | {r.client} | {shown} | {total} |"


LOAD_HEAD = [
    "| items | server | processes | client | searches/s | p50 ms | p99 ms | errors | "
    "server CPU ms/search | client CPU ms/search |",
    "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|",
]
LAYER_HEAD = [
    f"| items | server | client | {' | '.join(LAYER_NAMES)} | total |",
    "|---:|---|---|---:|---:|---:|---:|",
]


def targets(results: dict[int, list[LoadResult]], caption_p50: dict[str, float]) -> list[str]:
    """Issue 69's targets at 2,000 items, each with what this run measured."""
    rows = results.get(2000)
    if not rows:
        return []
    mine = [r for r in rows if r.client == "ordinary" and r.server.startswith("this tree")]
    base = [r for r in rows if r.client == "ordinary" and not r.server.startswith("this tree")]
    lines = ["| target | measured | met |", "|---|---|---|"]
    for r in mine:
        if r.server_ms is not None:
            met = "yes" if r.server_ms <= 2.5 else "no"
            lines.append(
                f"| server CPU per search, ordinary client, {r.server}: <= 2.5 ms | "
                f"{r.server_ms:.2f} ms | {met} |"
            )
        if base and base[0].searches_s:
            ratio = r.searches_s / base[0].searches_s
            lines.append(
                f"| searches/s, ordinary client, {r.server}: >= 2x {base[0].server} | "
                f"{ratio:.2f}x ({r.searches_s:.1f} vs {base[0].searches_s:.1f}) | "
                f"{'yes' if ratio >= 2 else 'no'} |"
            )
    for server, p50 in caption_p50.items():
        if server.startswith("this tree"):
            met = "yes" if p50 <= 3 else "no"
            lines.append(f"| one caption search, {server}: p50 <= 3 ms | {p50:.1f} ms | {met} |")
    return lines


#: what each layer's own work is in-process (``bench/search_cpu.py``'s stages), and what would
#: close the rest of it: the closing section of ``bench/results/search.md``
LEFT = {
    OTHER: (
        (),
        "HTTP parsing, the framework's middleware stack (each layer wraps every answer's send), "
        "request validation and response encoding in pydantic, the access log line: fewer "
        "layers (one ASGI middleware for the timer and Retry-After), answers encoded once "
        "without the framework's second validation, the access log off the loop",
    ),
    "request pool": (
        ("prepare", "finish"),
        "the rest is the hand-offs (pool, inference thread, pool: a wake-up each) and the "
        "interpreter shared with the event loop: file-less queries planned on the loop where "
        "the version read is memory-only, one store call per model batch",
    ),
    "model": (
        ("model",),
        "batches stay small under an ordinary client (each process sees part of the searches), "
        "so the pass per search costs what a batch of one does: a cheaper text tower and trunk "
        "(the built-in model's next generation), or waiting for a batch to fill under load",
    ),
}


def left_section(
    results: dict[int, list[LoadResult]], stages: dict[int, dict[str, float]], server: str
) -> list[str]:
    """Per layer at 2,000 items for ``server`` under the ordinary client (what users run): its
    CPU per search, its stages' own work in-process, what is left, what would close it."""
    rows = [r for r in results.get(2000, []) if r.client == "ordinary" and r.server == server]
    if not rows or 2000 not in stages:
        return []
    r, own = rows[0], stages[2000]
    lines = [
        "## What is left, per layer",
        "",
        f"2,000 items, {r.server}, the ordinary client: each layer's CPU per search under the "
        "load, its stages' own work run in-process (the table above; the event loop has no "
        "stage of its own), what is left, and what would close it.",
        "",
        "| layer | server CPU ms/search | its stages in-process | left | what would close it |",
        "|---|---:|---:|---:|---|",
    ]
    for layer, (names, closing) in LEFT.items():
        spent = r.layers.get(layer, 0.0)
        inside = sum(own.get(n, 0.0) for n in names)
        lines.append(f"| {layer} | {spent:.2f} | {inside:.2f} | {spent - inside:.2f} | {closing} |")
    return lines
