"""Search over HTTP, this tree's server beside another revision's, in the same run.

For each gallery size: a gallery is written once (a FAISS store in a temporary data directory,
the collection's rows in its database as the indexer leaves them: version 1 current, every item
indexed), then each server in turn (``anyseek serve`` of this tree and, with ``--baseline-rev``,
of that revision checked out in a temporary git worktree, on the same data) is measured by this
process's load generator (``bench/http_load.py``):

* **one client**: ``--queries`` caption queries and as many sketch queries, one after another;
  p50/p95/p99 in ms, and each stage's median ``timings_ms`` (what the server says it spent);
* **16 clients** (``--clients``) of mixed caption and sketch queries, in turn, for
  ``--seconds``: searches/s, errors, p50 latency (at the sizes of ``--load-sizes``); with
  ``--workers N`` also this tree's ``anyseek serve --workers N`` (a writer and N-1 readers on
  one port).

Both servers run in this venv, so with the same libraries (an earlier revision gets httptools
too when this tree's install has it).

The gallery: ``--real`` generated scenes embedded by the built-in model (real vectors), and up to
the size *synthetic distractors*: real vectors plus Gaussian noise (sigma ``--noise``),
renormalised. They give the store its real size and spread, but are not images, so only speed is
measured here, not retrieval quality. The store is the default configuration (exact up to
``ANYSEEK_STORE__EXACT_THRESHOLD``, IVF beyond). Server threads: ``OMP_NUM_THREADS`` as given.

Both servers load one model (``--model``), which embeds the gallery too: ``baseline`` is the
built-in bundle the baseline revision ships (a newer tree reads an older bundle; an older tree
may not read a newer one), ``builtin`` this tree's, or a bundle folder.

Writes the whole result file (``--out``), starting with the command that made it::

    PYTHONPATH=. .venv/bin/python bench/search.py --baseline-rev 5065b65 --model baseline \
        --sizes 2000,100000 --out bench/results/search.md
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# run as a script, this file's folder comes first on sys.path and this module would shadow the
# ``search`` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
from bench import http_load, httpx_load, search_load  # noqa: E402  (after the path fix)
from bench.revisions import baseline_tree, remove_tree  # noqa: E402
from bench.search_cpu import STAGES, StageCpu, stage_cpu  # noqa: E402

COLLECTION = "bench"
KINDS = ("caption", "sketch")  # what this bench asks
MODALITIES = ("caption", "sketch", "depth", "semseg", "image")  # what query_body can ask


def _png(array: np.ndarray) -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def _npy(array: np.ndarray) -> str:
    out = io.BytesIO()
    np.save(out, array.astype(np.float32))
    return base64.b64encode(out.getvalue()).decode()


def query_body(modality: str, scene) -> dict:
    """A JSON search body asking for one modality of a scene (``bench/scale.py`` asks them all)."""
    if modality == "caption":
        part = {"modality": "caption", "text": scene.captions[0]}
    elif modality == "depth":
        part = {"modality": "depth", "data": _npy(scene.depth)}
    else:
        array = {"sketch": 255 - scene.sketch, "semseg": scene.semseg, "image": scene.rgb}
        part = {"modality": modality, "data": _png(array[modality])}
    return {"parts": [part], "k": 10}


def build_gallery(
    data_dir: Path, size: int, real_vectors: dict, model, noise: float, source: str = "builtin"
) -> float:
    """The gallery in a FAISS store and the database, as indexing leaves them; build seconds."""
    from anyseek.db import migrate, repository, versions
    from anyseek.indexer.collections import attach_model
    from anyseek.search.stores import SpaceSpec, open_store
    from anyseek.settings import load_settings

    settings = load_settings(data_dir=data_dir, store={"path": str(data_dir / "faiss")})
    database = migrate.open_database(settings)
    with database.session() as session:
        collection = repository.create_collection(session, COLLECTION)
        attach_model(session, collection, model, source)  # version 1, current
        session.flush()
        collection_id, store_name = collection.id, versions.store_name(COLLECTION, 1)
    _item_rows(database, collection_id, size)
    database.dispose()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with open_store(settings) as store:
        specs = [SpaceSpec(name, v.shape[1]) for name, v in real_vectors.items()]
        store.ensure_collection(store_name, specs)
        n_real = len(next(iter(real_vectors.values())))
        for lo in range(0, size, 50_000):
            hi = min(size, lo + 50_000)
            batch = {}
            for name, v in real_vectors.items():
                x = v[np.arange(lo, hi) % n_real].astype(np.float32)
                distractor = np.arange(lo, hi) >= n_real
                x[distractor] += noise * rng.standard_normal(x[distractor].shape, np.float32)
                batch[name] = x / np.linalg.norm(x, axis=1, keepdims=True)
            ids = list(range(lo + 1, hi + 1))
            payloads = [{"path": f"/bench/{i}.png", "ext": "png"} for i in ids]
            store.upsert(store_name, ids, batch, payloads)
        store.flush()
    return time.perf_counter() - start


def _item_rows(database, collection_id: int, size: int) -> None:
    """Every gallery item as an indexed row (the paging snapshot reads the newest)."""
    from sqlalchemy import insert

    from anyseek.db.models import Item, ItemStatus

    for lo in range(1, size + 1, 50_000):
        rows = [
            {
                "id": i,
                "collection_id": collection_id,
                "sha256": f"{i:064x}",
                "source_uri": f"/bench/{i}.png",
                "status": ItemStatus.INDEXED,
            }
            for i in range(lo, min(size, lo + 49_999) + 1)
        ]
        with database.session() as session:
            session.execute(insert(Item), rows)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    tree: Path, data_dir: Path, source: str = "builtin", workers: int | None = None
) -> tuple[subprocess.Popen, str]:
    """``anyseek serve`` of the code in ``tree`` with model ``source`` on the gallery, in
    ``workers`` processes (None: as the tree's ``anyseek serve`` chooses; see :func:`serve`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {
        "PYTHONPATH": str(tree),
        "ANYSEEK_MODEL__SOURCE": source,
        "ANYSEEK_DATA_DIR": str(data_dir),
        "ANYSEEK_STORE__PATH": str(data_dir / "faiss"),
    }
    if workers is not None:  # an earlier revision without the setting is never asked for it
        env["ANYSEEK_API__WORKERS"] = str(workers)
    return serve(env, timeout_s=600, cwd=tree)  # a 1M-item index takes minutes to load


def serve(
    env: dict[str, str], timeout_s: float = 120, cwd: Path = ROOT
) -> tuple[subprocess.Popen, str]:
    """``anyseek serve`` (``python -m anyseek.cli`` from ``cwd``) with ``env`` on a free port;
    (process,
    base url) once /readyz answers, or the server's last words when it exits first."""
    import httpx

    port = _port()
    cmd = [
        sys.executable,
        "-m",
        cli_module(cwd),
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    with httpx.Client(trust_env=False) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"{base}/readyz", timeout=1).status_code == 200:
                    return process, base
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise SystemExit(f"server exited: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"server not ready in {timeout_s:g} s")


def data_for(tree: Path, data_dir: Path) -> Path:
    """The gallery as ``tree``'s server can open it: ``data_dir`` itself, or for a tree whose
    newest migration is older than this tree's, a copy beside it with the database migrated
    down to that revision (the store files are the same)."""
    import shutil

    from anyseek.db import migrate
    from anyseek.settings import load_settings

    head = max(p.name[:4] for p in (tree / "migrations" / "versions").glob("[0-9]*.py"))
    ours = max(p.name[:4] for p in (ROOT / "migrations" / "versions").glob("[0-9]*.py"))
    if tree == ROOT or head >= ours:
        return data_dir
    copy = data_dir.with_name(f"{data_dir.name}-{tree.name}")
    if not copy.exists():
        shutil.copytree(data_dir, copy)
        database = migrate.open_database(load_settings(data_dir=copy))
        migrate.downgrade(database, head)
        database.dispose()
    return copy


def cli_module(tree: Path) -> str:
    """The CLI's module in ``tree``: ``anyseek.cli`` since one import root (b6d1060), ``cli``
    before (an older tree's ``anyseek.cli`` would be found in this venv's editable install)."""
    return "anyseek.cli" if (tree / "anyseek" / "cli").exists() else "cli"


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class OneClient:
    """One client's latencies (ms) per query kind, and the stage timings the server reported."""

    ms: dict[str, list[float]] = field(default_factory=dict)
    stages: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def one_client(base: str, bodies: dict[str, list[dict]]) -> OneClient:
    """Each kind's queries one after another (after 5 warm-up queries of each)."""
    url = f"{base}/v1/collections/{COLLECTION}/search"
    out = OneClient()
    asyncio.run(
        http_load.ask_each(url, [body for queries in bodies.values() for body in queries[:5]])
    )
    for kind, queries in bodies.items():
        stages: dict[str, list[float]] = {}
        answered = asyncio.run(http_load.ask_each(url, queries))
        for _, answer in answered:
            if answer.status != 200:
                raise SystemExit(f"{kind}: {answer.status} {answer.body[:300]!r}")
            for stage, stage_ms in answer.json().get("timings_ms", {}).items():
                stages.setdefault(stage, []).append(stage_ms)
        out.ms[kind], out.stages[kind] = [ms for ms, _ in answered], stages
    return out


PLAIN = "this tree, `anyseek serve`"


def servers(trees: dict[str, Path], workers: int) -> list[tuple[str, Path, int | None]]:
    """Each server measured: an earlier tree as it serves by default, this tree in one process
    (``--workers 1``), as a plain ``anyseek serve`` (no ``--workers``) and, with ``workers``,
    with ``--workers N``."""
    out: list[tuple[str, Path, int | None]] = []
    for name, tree in trees.items():
        if tree != ROOT:
            out.append((name, tree, None))
    out += [("this tree, --workers 1", ROOT, 1), (PLAIN, ROOT, None)]
    if workers > 1:
        out.append((f"this tree, --workers {workers}", ROOT, workers))
    return out


def cpu_model() -> str:
    """The CPU's model name, as ``lscpu`` gives it."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def load_avg() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` gives them."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="2000,100000")
    parser.add_argument("--load-sizes", default=None, help="sizes with the 16-client load")
    parser.add_argument("--baseline-rev", default=None, help="git revision to measure beside")
    parser.add_argument("--real", type=int, default=1000, help="scenes embedded by the model")
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--queries", type=int, default=60, help="per kind, one client")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--model", default="builtin", help="baseline, builtin or a bundle folder")
    parser.add_argument(
        "--workers", type=int, default=0, help="also load this tree's server with --workers N"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    command = "OMP_NUM_THREADS={} PYTHONPATH=. .venv/bin/python bench/search.py {}".format(
        os.environ.get("OMP_NUM_THREADS", "(unset)"), shlex.join(sys.argv[1:])
    )
    trees = {"this tree": ROOT}
    if args.baseline_rev:
        trees = {args.baseline_rev[:10]: baseline_tree(args.baseline_rev), "this tree": ROOT}
    try:
        text = measure(args, trees, command, model_source(args.model, trees))
    finally:
        for tree in trees.values():
            if tree != ROOT:
                remove_tree(tree)
    print(text)
    if args.out:
        args.out.write_text(text)


def model_source(model: str, trees: dict[str, Path]) -> str:
    """What both servers load: ``baseline`` -> the first tree's shipped built-in bundle (its
    folder, where that revision kept it), ``builtin`` or a folder as given."""
    if model != "baseline":
        return model if model == "builtin" else str(Path(model).resolve())
    tree = next(iter(trees.values()))
    for folder in ("model/builtin/weights", "model/builtin"):
        if (tree / folder / "bundle.json").is_file():
            return str(tree / folder)
    raise SystemExit(f"no built-in bundle in {tree}")


def measure(args: argparse.Namespace, trees: dict[str, Path], command: str, source: str) -> str:
    """The whole result file: setting, one-client latencies, stage timings, load."""
    import torch
    from PIL import Image

    from anyseek.model.service import load_search_model
    from anyseek.scenes.sample import generate_batch

    model = load_search_model(source)
    real = []
    for lo in range(0, args.real, 256):
        real += generate_batch(range(995_000 + lo, 995_000 + min(args.real, lo + 256)), 64)
    vectors: dict[str, list] = {}
    for lo in range(0, len(real), 256):
        x = torch.stack([model.image_input(Image.fromarray(s.rgb)) for s in real[lo : lo + 256]])
        for name, v in model.embed_images(x).items():
            vectors.setdefault(name, []).append(np.asarray(v))
    stacked = {name: np.concatenate(v) for name, v in vectors.items()}
    queries = generate_batch(range(996_000, 996_000 + args.queries), 64)  # not in the gallery
    bodies = {kind: [query_body(kind, s) for s in queries] for kind in KINDS}
    mixed = [bodies[kind][i] for i in range(args.queries) for kind in KINDS]
    asks = httpx_load.mixed_asks(bodies)
    load_sizes = {int(s) for s in (args.load_sizes or args.sizes).split(",")}
    started, cpu_name = load_avg(), cpu_model()
    single, stages, load, layers, cpu_rows = [], [], [], [], []
    results: dict[int, list[search_load.LoadResult]] = {}
    caption_p50: dict[str, float] = {}
    stage_ms: dict[int, dict[str, float]] = {}  # size -> in-process CPU ms per search by stage
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="anyseek-bench-") as tmp:
            gallery = Path(tmp) / "gallery"
            build_s = build_gallery(gallery, size, stacked, model, args.noise, source)
            print(f"{size:,} items built in {build_s:.0f} s", flush=True)
            for name, tree, workers in servers(trees, args.workers):
                process, base = start_server(tree, data_for(tree, gallery), source, workers)
                try:
                    found = one_client(base, bodies)
                    for kind, times in found.ms.items():
                        single.append(
                            f"| {size:,} | {name} | {kind} | {pct(times, 0.5):.1f} | "
                            f"{pct(times, 0.95):.1f} | {pct(times, 0.99):.1f} |"
                        )
                        print(single[-1], flush=True)
                        medians = {s: statistics.median(v) for s, v in found.stages[kind].items()}
                        shown = ", ".join(f"{s} {ms:.2f}" for s, ms in medians.items())
                        stages.append(f"| {size:,} | {name} | {kind} | {shown} |")
                        if size == 2000 and kind == "caption":
                            caption_p50[name] = pct(times, 0.5)
                    if size in load_sizes:
                        url = f"{base}/v1/collections/{COLLECTION}"
                        for client, work in (("lean", mixed), ("ordinary", asks)):
                            got = search_load.run_load(
                                name, client, process.pid, url, work, args.clients, args.seconds
                            )
                            results.setdefault(size, []).append(got)
                            load.append(search_load.load_row(size, got))
                            print(load[-1], flush=True)
                            if tree == ROOT:
                                layers.append(search_load.layer_row(size, got))
                finally:
                    stop(process)
            if size in load_sizes:
                spent = stage_cpu(gallery, source, mixed, COLLECTION)
                stage_ms[size] = spent.ms
                plain = [r for r in results[size] if r.client == "lean" and r.server == PLAIN]
                cpu_rows.append(cpu_row(size, spent, plain[0].server_ms if plain else None))
    return "\n".join(
        [
            "# Search over HTTP: this tree beside an earlier revision, in one run",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {cpu_name}, {os.cpu_count()} cores; load average (1/5/15 min) "
            f"{started} at the start, {load_avg()} at the end (other work on the machine "
            "shows here). Gallery: "
            f"{args.real} generated scenes embedded by the model both servers load "
            f"(`--model {args.model}`) + synthetic "
            f"distractors (real vectors + N(0, {args.noise}²) noise, renormalised) up to the "
            f"size, in the default store (exact up to 50,000 items, IVF beyond), the database "
            f"holding every item; {args.queries} held-out queries per kind; each server started "
            "on the same data in turn. Generated by `bench/search.py`: rerun it, do not edit.",
            "",
            "## One client: latency over HTTP (ms)",
            "",
            "| items | server | query | p50 | p95 | p99 |",
            "|---:|---|---|---:|---:|---:|",
            *single,
            "",
            "## Where the time goes: the server's stage timings (`timings_ms`, median ms)",
            "",
            "`resolve` (the collection's version, model and snapshot: one database read, or "
            "none on SQLite when nothing was committed since the last), "
            "`transform` (spaces and model inputs), `queue` (waiting for the model's batch), "
            "`model`, `store` (one search per space), `fuse` (fusion, relevance, cursor), "
            "`page` (hits and the next cursor); the earlier revision names its own stages. "
            "The rest of a request's time is HTTP, JSON and thread hand-offs.",
            "",
            "| items | server | query | stages |",
            "|---:|---|---|---|",
            *stages,
            "",
            f"## {args.clients} clients of mixed caption and sketch queries, {args.seconds:g} s",
            "",
            "Each server in turn, under two clients in turn: the **lean** one "
            "(`bench/http_load.py`: JSON captions and sketches, keep-alive connections, each "
            "request encoded once, about 0.1 ms of CPU per request) and an **ordinary** one "
            "(`bench/httpx_load.py`: httpx on asyncio, captions as JSON and sketches as "
            "multipart uploads, as users' clients are). CPU ms per search: the server's "
            "processes (every thread, the process tree) and the client's (this process), on "
            f"the same cores. {PLAIN}: this tree's server with no `--workers`, which runs a "
            "process per core as the memory allows (`api/processes.py`).",
            "",
            *search_load.LOAD_HEAD,
            *load,
            "",
            "## This tree's server CPU per search, per layer (ms)",
            "",
            "The server names its threads (`search/runner.py`), so /proc splits its CPU: "
            "`event loop` = each process's main thread and the unnamed ones (HTTP parsing, "
            "routing and middleware, JSON and multipart parsing, pydantic, metrics, the hand-offs"
            " to and from the threads), `request pool` = `anyseek-query` (the version read and "
            "model inputs of file-less queries, store search, fusion, page) and "
            "`anyseek-decode` (the queries with files), `model` = "
            "`anyseek-search` and its OpenMP team.",
            "",
            *search_load.LAYER_HEAD,
            *layers,
            "",
            "## Issue 69's targets at 2,000 items",
            "",
            *search_load.targets(results, caption_p50),
            *cpu_section(cpu_rows),
            *search_load.left_section(results, stage_ms, PLAIN),
        ]
    )


def cpu_row(size: int, spent: StageCpu, server_ms: float | None) -> str:
    """A row of the in-process stage CPU table (``bench/search_cpu.py``)."""
    rest = f"{server_ms - spent.total:.2f}" if server_ms is not None else ""
    shown = " | ".join(f"{spent.ms[s]:.2f}" for s in STAGES)
    served = f"{server_ms:.2f}" if server_ms is not None else ""
    return f"| {size:,} | {shown} | {spent.total:.2f} | {served} | {rest} |"


def cpu_section(rows: list[str]) -> list[str]:
    """The in-process stage CPU table, when there are rows (sizes under load)."""
    if not rows:
        return [""]
    return [
        "",
        "## Where a search's CPU goes: this tree's stages in-process, and the rest",
        "",
        "Thread CPU ms per search of each of the searcher's own stages, run one after another "
        "on one thread over the same gallery and queries in batches of 8 (`bench/search_cpu.py`:"
        " `prepare` = the version read and the query decoded into model inputs, `model`, "
        "`finish` = store, fusion, page), beside the server's CPU per search under the lean "
        f"client's load ({PLAIN}); the rest is HTTP, the framework, JSON and the hand-offs "
        "between threads.",
        "",
        "| items | prepare | model | finish | sum | server CPU ms/search | rest |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ]


if __name__ == "__main__":
    main()
