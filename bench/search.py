"""End-to-end HTTP latency and throughput of ``anyseek serve`` over loopback.

For each gallery size and store kind: a gallery is written to a FAISS store in a temporary data
directory, ``anyseek serve`` is started on it as its own process, and a small httpx load generator
(this process) measures

* p50/p95/p99 latency per query modality, one client, ``--queries`` different queries each;
* throughput and errors under ``--clients`` concurrent clients for ``--seconds`` seconds, with
  micro-batching on (ANYSEEK_API__BATCH_MAX=16, waiting 0 or 2 ms for a batch to fill) and off
  (=1), each on a fresh server.

The gallery: ``--real`` generated scenes embedded by the built-in model (real vectors), and up to
``--sizes`` items filled with *synthetic distractors*: real vectors plus Gaussian noise
(sigma ``--noise``), renormalised, as other items. Embedding 100k scenes takes ~40 min on this
2-core machine; the distractors give the store its real size and a realistic spread, but they
are not images, so only latency and throughput are measured here, not retrieval quality.

OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python bench/search.py --sizes 10000,100000 \
    --stores exact,ivf_sq8 --out /tmp/search_http.md
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# run as a script, this file's folder comes first on sys.path and this module would shadow the
# ``search`` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
COLLECTION = "bench"
MODALITIES = ("caption", "sketch", "depth", "semseg", "image")


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
    """A JSON search body asking for one modality of a scene."""
    if modality == "caption":
        part = {"modality": "caption", "text": scene.captions[0]}
    elif modality == "depth":
        part = {"modality": "depth", "data": _npy(scene.depth)}
    else:
        array = {"sketch": 255 - scene.sketch, "semseg": scene.semseg, "image": scene.rgb}
        part = {"modality": modality, "data": _png(array[modality])}
    return {"parts": [part], "k": 10}


def build_gallery(data_dir: Path, size: int, store_kind: str, real, vectors, noise: float) -> float:
    """Write the gallery (real vectors + distractors) into a FAISS store; returns build seconds."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for
    from anyseek.settings import load_settings
    from search.stores import SpaceSpec, open_store

    settings = load_settings(data_dir=data_dir, store=_store_settings(data_dir, store_kind))
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with open_store(settings) as store:
        specs = [SpaceSpec(name, v.shape[1]) for name, v in vectors.items()]
        store.ensure_collection(COLLECTION, specs)
        n_real = len(real)
        for lo in range(0, size, 20_000):
            hi = min(size, lo + 20_000)
            ids = list(range(lo + 1, hi + 1))
            batch = {}
            for name, v in vectors.items():
                rows = np.arange(lo, hi) % n_real
                x = v[rows].astype(np.float32)
                distractor = np.arange(lo, hi) >= n_real
                x[distractor] += noise * rng.standard_normal(x[distractor].shape, np.float32)
                batch[name] = x / np.linalg.norm(x, axis=1, keepdims=True)
            payloads = [{"path": f"/bench/{i}.png", "ext": "png"} for i in ids]
            store.upsert(COLLECTION, ids, batch, payloads)
        store.flush()
    return time.perf_counter() - start


def _store_settings(data_dir: Path, kind: str) -> dict:
    if kind == "exact":
        return {"path": str(data_dir / "faiss"), "exact_threshold": 10**7}
    return {"path": str(data_dir / "faiss"), "exact_threshold": 1, "approximate": kind}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(env: dict[str, str], timeout_s: float = 120) -> tuple[subprocess.Popen, str]:
    """``anyseek serve`` with ``env`` on a free port; (process, base url) once /readyz answers,
    or the server's last words when it exits or is not ready within ``timeout_s``."""
    import httpx

    port = _port()
    exe = Path(sys.executable).with_name("anyseek")
    cmd = [str(exe), "serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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


def start_server(
    data_dir: Path, store_kind: str, batch_max: int, wait_ms: float, threads: int, model: str
):
    """``anyseek serve`` on the gallery; returns (process, base url) once /readyz answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    store = _store_settings(data_dir, store_kind)
    env |= {
        "ANYSEEK_MODEL__SOURCE": model,
        "ANYSEEK_DATA_DIR": str(data_dir),
        "ANYSEEK_STORE__PATH": store["path"],
        "ANYSEEK_STORE__EXACT_THRESHOLD": str(store["exact_threshold"]),
        "ANYSEEK_API__BATCH_MAX": str(batch_max),
        "ANYSEEK_API__BATCH_WAIT_MS": str(wait_ms),
        "OMP_NUM_THREADS": str(threads),
    }
    if "approximate" in store:
        env["ANYSEEK_STORE__APPROXIMATE"] = store["approximate"]
    return serve(env)


def stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latencies(base: str, bodies: dict[str, list[dict]]) -> dict[str, list[float]]:
    """Milliseconds per query, one client, per modality (after 3 warm-up queries)."""
    import httpx

    url = f"{base}/v1/collections/{COLLECTION}/search"
    out = {}
    with httpx.Client(trust_env=False, timeout=60) as client:
        for body in bodies["caption"][:3]:
            client.post(url, json=body)
        for modality, queries in bodies.items():
            times = []
            for body in queries:
                start = time.perf_counter()
                response = client.post(url, json=body)
                times.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{modality}: {response.status_code} {response.text[:300]}")
            out[modality] = times
    return out


async def _load(base: str, bodies: list[dict], clients: int, seconds: float) -> tuple[int, int]:
    """(answered, errors) of ``clients`` concurrent clients looping for ``seconds``."""
    import httpx

    url = f"{base}/v1/collections/{COLLECTION}/search"
    done = errors = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(trust_env=False, timeout=60, limits=limits) as client:

        async def worker(i: int) -> None:
            nonlocal done, errors
            j = i
            while time.monotonic() < stop_at:
                try:
                    response = await client.post(url, json=bodies[j % len(bodies)])
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                done += ok
                errors += not ok
                j += clients

        await asyncio.gather(*(worker(i) for i in range(clients)))
    return done, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--stores", default="exact,ivf_sq8")
    parser.add_argument("--real", type=int, default=1000, help="scenes embedded by the model")
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--queries", type=int, default=40, help="per modality")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--threads", type=int, default=2, help="server OMP threads")
    parser.add_argument(
        "--modes",
        default="16:2,1:0",
        help="server modes BATCH_MAX:WAIT_MS; latencies with the first, load with each",
    )
    parser.add_argument(
        "--loads", default="mixed,caption", help="load queries: mixed modalities and/or one"
    )
    parser.add_argument(
        "--models",
        default="builtin",
        help="model sources to serve, comma-separated (an old bundle folder beside builtin "
        "measures both in one run)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = "\n\n".join(f"### Model {m}\n\n" + measure(args, m) for m in args.models.split(","))
    print(text)
    if args.out:
        args.out.write_text(text)


def measure(args: argparse.Namespace, source: str) -> str:
    """The latency and load tables of one model."""
    import torch
    from PIL import Image

    from model.families.registry import load_search_model
    from scenes.sample import generate_batch

    t0 = time.perf_counter()
    model = load_search_model(source)
    real = []
    for lo in range(0, args.real, 256):
        real += generate_batch(range(995_000 + lo, 995_000 + min(args.real, lo + 256)), 64)
    vectors: dict[str, list] = {}
    for lo in range(0, len(real), 256):
        x = torch.stack([model.image_input(Image.fromarray(s.rgb)) for s in real[lo : lo + 256]])
        for name, v in model.embed_images(x).items():
            vectors.setdefault(name, []).append(v)
    stacked = {name: np.concatenate(v) for name, v in vectors.items()}
    embed_s = time.perf_counter() - t0
    queries = generate_batch(range(996_000, 996_000 + args.queries), 64)  # not in the gallery
    bodies = {m: [query_body(m, s) for s in queries] for m in MODALITIES}
    mixed = [bodies[m][i] for i in range(args.queries) for m in MODALITIES]

    lines = [
        f"Gallery: {args.real} generated scenes embedded by the model ({embed_s:.0f} s) "
        f"+ synthetic distractors (real vectors + N(0, {args.noise}²) noise, renormalised) up to "
        f"the size; {args.queries} held-out queries per modality; server OMP threads "
        f"{args.threads}; load: {args.clients} clients for {args.seconds:g} s each, queries of all "
        "five modalities in turn (mixed) or captions only.",
        "",
        "| items | store | build s | query | p50 ms | p95 ms | p99 ms |",
        "|---:|---|---:|---|---:|---:|---:|",
    ]
    load_lines = [
        "",
        "| items | store | queries | micro-batching | clients | queries/s | errors |",
        "|---:|---|---|---|---:|---:|---:|",
    ]
    for size in [int(s) for s in args.sizes.split(",")]:
        for kind in args.stores.split(","):
            with tempfile.TemporaryDirectory(prefix="anyseek-bench-") as tmp:
                data_dir = Path(tmp)
                build_s = build_gallery(data_dir, size, kind, real, stacked, args.noise)
                modes = [
                    (int(m.split(":")[0]), float(m.split(":")[1])) for m in args.modes.split(",")
                ]
                process, base = start_server(data_dir, kind, *modes[0], args.threads, source)
                try:
                    found = latencies(base, bodies)
                    for modality, times in found.items():
                        lines.append(
                            f"| {size:,} | {kind} | {build_s:.0f} | {modality} | "
                            f"{pct(times, 0.5):.1f} | {pct(times, 0.95):.1f} | "
                            f"{pct(times, 0.99):.1f} |"
                        )
                        print(lines[-1], flush=True)
                    for i, (batch_max, wait_ms) in enumerate(modes):
                        if i:
                            stop(process)
                            process, base = start_server(
                                data_dir, kind, batch_max, wait_ms, args.threads, source
                            )
                        how = f"on ({batch_max}, wait {wait_ms:g} ms)" if batch_max > 1 else "off"
                        for load in args.loads.split(","):
                            sent = mixed if load == "mixed" else bodies[load]
                            done, errors = asyncio.run(
                                _load(base, sent, args.clients, args.seconds)
                            )
                            load_lines.append(
                                f"| {size:,} | {kind} | {load} | {how} | "
                                f"{args.clients} | {done / args.seconds:.1f} | {errors} |"
                            )
                            print(load_lines[-1], flush=True)
                finally:
                    stop(process)
    return "\n".join(lines + load_lines) + "\n"


if __name__ == "__main__":
    main()
