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

    OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python bench/search.py --baseline-rev REV \
        --model baseline --workers 2 --sizes 2000,100000,1000000 --load-sizes 2000,100000 \
        --out bench/results/search.md
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import resource
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
from bench import http_load  # noqa: E402  (after the path fix)
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
    tree: Path, data_dir: Path, source: str = "builtin", workers: int = 1
) -> tuple[subprocess.Popen, str]:
    """``anyseek serve`` of the code in ``tree`` with model ``source`` on the gallery, in
    ``workers`` processes (see :func:`serve`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {
        "PYTHONPATH": str(tree),
        "ANYSEEK_MODEL__SOURCE": source,
        "ANYSEEK_DATA_DIR": str(data_dir),
        "ANYSEEK_STORE__PATH": str(data_dir / "faiss"),
    }
    if workers > 1:  # an earlier revision without the setting is never asked for it
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


def own_cpu_s() -> float:
    """CPU seconds this process (the load generator) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_ms(seconds: float | None, done: int) -> str:
    """CPU ms per answered search, or blank when unknown."""
    return f"{seconds * 1000 / done:.2f}" if seconds is not None and done else ""


def load_row(
    label: str,
    size: int,
    process: subprocess.Popen,
    base: str,
    args: argparse.Namespace,
    bodies: list[dict],
) -> tuple[str, float | None]:
    """One row of the load table: ``args.clients`` clients on ``base`` (after a 3-second
    warm-up), with the CPU the server's processes and this generator spent; and the server's
    CPU ms per search."""
    url = f"{base}/v1/collections/{COLLECTION}/search"
    asyncio.run(http_load.run_clients(url, bodies, args.clients, 3))
    before, client_before = http_load.tree_cpu_s(process.pid), own_cpu_s()
    load = asyncio.run(http_load.run_clients(url, bodies, args.clients, args.seconds))
    after, client_s = http_load.tree_cpu_s(process.pid), own_cpu_s() - client_before
    server_s = after - before if before is not None and after is not None else None
    row = (
        f"| {size:,} | {label} | {args.clients} | {load.done / args.seconds:.1f} | "
        f"{pct(load.ms, 0.5):.0f} | {pct(load.ms, 0.99):.0f} | {load.errors} | "
        f"{cpu_ms(server_s, load.done)} | {cpu_ms(client_s, load.done)} |"
    )
    server_ms = server_s * 1000 / load.done if server_s is not None and load.done else None
    return row, server_ms


def load_avg() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` gives them."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def baseline_tree(rev: str) -> Path:
    """A temporary git worktree of ``rev`` (removed by :func:`remove_tree`)."""
    folder = Path(tempfile.mkdtemp(prefix="anyseek-baseline-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
        check=True,
        capture_output=True,
    )
    return folder


def remove_tree(folder: Path) -> None:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False
    )


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
        "--workers", type=int, default=1, help="also load this tree's server with --workers N"
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


def with_workers(
    args: argparse.Namespace, size: int, data_dir: Path, source: str, bodies: list[dict]
) -> tuple[str, float | None]:
    """The load row of this tree's server with ``--workers N`` (N processes on one port: a
    writer and readers), and its CPU ms per search."""
    process, base = start_server(ROOT, data_dir, source, workers=args.workers)
    try:
        return load_row(f"this tree, --workers {args.workers}", size, process, base, args, bodies)
    finally:
        stop(process)


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
    load_sizes = {int(s) for s in (args.load_sizes or args.sizes).split(",")}
    started = load_avg()
    single, stages, load, cpu_rows = [], [], [], []
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="anyseek-bench-") as tmp:
            build_s = build_gallery(Path(tmp), size, stacked, model, args.noise, source)
            print(f"{size:,} items built in {build_s:.0f} s", flush=True)
            for name, tree in trees.items():
                process, base = start_server(tree, Path(tmp), source)
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
                    if size in load_sizes:
                        load.append(load_row(name, size, process, base, args, mixed)[0])
                        print(load[-1], flush=True)
                finally:
                    stop(process)
            if size in load_sizes and args.workers > 1:
                row, server_ms = with_workers(args, size, Path(tmp), source, mixed)
                load.append(row)
                spent = stage_cpu(Path(tmp), source, mixed, COLLECTION)
                cpu_rows.append(cpu_row(size, spent, server_ms))
                print(load[-1], flush=True)
    return "\n".join(
        [
            "# Search over HTTP: this tree beside an earlier revision, in one run",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {os.cpu_count()} cores; load average (1/5/15 min) {started} at the start,"
            f" {load_avg()} at the end (other work on the machine shows here). Gallery: "
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
            "`resolve` (the collection's version, model and snapshot: one database read), "
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
            "CPU ms per search: the server's processes (every thread) and this load "
            "generator's (`bench/http_load.py`, keep-alive connections with each request "
            "encoded once, in the same run on the same cores), so what the cores spent per "
            "search. With `--workers N`, a last row per size: this tree's `anyseek serve "
            "--workers N` (a writer and N-1 readers on one port, `api/readers.py`).",
            "",
            "| items | server | clients | searches/s | p50 ms | p99 ms | errors | server CPU "
            "ms/search | load generator CPU ms/search |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
            *load,
            *cpu_section(cpu_rows, args.workers),
        ]
    )


def cpu_row(size: int, spent: StageCpu, server_ms: float | None) -> str:
    """A row of the in-process stage CPU table (``bench/search_cpu.py``)."""
    rest = f"{server_ms - spent.total:.2f}" if server_ms is not None else ""
    shown = " | ".join(f"{spent.ms[s]:.2f}" for s in STAGES)
    served = f"{server_ms:.2f}" if server_ms is not None else ""
    return f"| {size:,} | {shown} | {spent.total:.2f} | {served} | {rest} |"


def cpu_section(rows: list[str], workers: int) -> list[str]:
    """The in-process stage CPU table, when there are rows (``--workers`` given)."""
    if not rows:
        return [""]
    return [
        "",
        "## Where a search's CPU goes: this tree's stages in-process, and the rest",
        "",
        "Thread CPU ms per search of each of the searcher's own stages, run one after another "
        "on one thread over the same gallery and queries in batches of 8 (`bench/search_cpu.py`:"
        " `prepare` = the version read and the query decoded into model inputs, `model`, "
        "`finish` = store, fusion, page), beside the server's CPU per search under the load "
        f"with `--workers {workers}`; the rest is HTTP, the framework, JSON and the hand-offs "
        "between threads.",
        "",
        f"| items | prepare | model | finish | sum | server CPU ms/search (`--workers {workers}`)"
        " | rest |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ]


if __name__ == "__main__":
    main()
