"""Benchmark indexing throughput: decode-only, model-only, in-process, and 1 and 2 worker processes.

PYTHONPATH=. python bench/indexing.py [--images 400] [--width 640 --height 480]
    [--chunk-size 256] [--broker redis://127.0.0.1:6379/13] [--database-url postgresql+psycopg://postgres@127.0.0.1/test]
PYTHONPATH=. python bench/indexing.py --modalities [--out bench/results/indexing_modalities.md]
PYTHONPATH=. python bench/indexing.py --phone [--images 40] [--out bench/results/indexing.md]

``--phone`` measures a phone's 12-megapixel JPEG and HEIC photos for the built-in model and for
open_clip ViT-B-32, each family in its own venv (``bench/indexing_phone.py``).

``--modalities`` measures instead whole in-process jobs over sources of every kind of item, the
same scenes at the same size: a folder of photos (PNG), of 16-bit depth maps, of segmentations,
of sketches, a JSONL of captions, and a manifest of photo + depth records (issue 51: a folder of
depth maps or a JSONL of captions indexes at no less than the rate of photos of the same size).

Images are JPEG photos made from generated scenes (upscaled, with noise so they compress like
photos). Decode-only is the pipeline's CPU work per image (read, SHA-256, decode, EXIF, RGB,
thumbnail, model input) on the decode pool; model-only is the built-in model on those inputs; the
in-process and worker rates are whole jobs (database, store, thumbnails included) from submit to
``succeeded``, after a warm-up job so that model loading is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the packages, not bench/search.py
ANYSEEK = Path(sys.executable).with_name("anyseek")


def make_images(folder: Path, count: int, width: int, height: int) -> None:
    """``count`` JPEG photos of generated scenes, ``width`` x ``height``."""
    from anyseek.scenes import generate_scene

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for seed in range(count):
        scene = Image.fromarray(generate_scene(seed, 64).rgb).resize((width, height))
        noisy = np.asarray(scene, dtype=np.int16) + rng.integers(-12, 12, (height, width, 3))
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        image.save(folder / f"photo{seed:05d}.jpg", quality=90)


def decode_only(settings, model, folder: Path) -> tuple[float, list]:
    """Images/s of fetch + hash + decode + thumbnail + model input on the decode pool."""
    from anyseek.indexer.decode import DecodeLimits, decode_item
    from anyseek.indexer.fetch import fetch
    from anyseek.indexer.sources import expand_source

    refs = expand_source(settings.indexer, folder)
    limits = DecodeLimits(settings.api.max_image_pixels, settings.indexer.thumbnail_size)

    def one(ref):
        return decode_item(fetch(ref, settings.indexer), limits, model)

    with ThreadPoolExecutor(settings.indexer.decode_workers) as pool:
        start = time.perf_counter()
        decoded = list(pool.map(one, refs))
        elapsed = time.perf_counter() - start
    return len(refs) / elapsed, decoded


def model_only(settings, model, decoded: list) -> float:
    """Images/s of the model alone on prepared inputs, in batches of the settings' size."""
    from anyseek.model.service import embed_items

    inputs = [d.inputs for d in decoded]
    embed_items(model, inputs[: settings.model.batch_size], settings.model.batch_size)  # warm-up
    start = time.perf_counter()
    embed_items(model, inputs, settings.model.batch_size)
    return len(decoded) / (time.perf_counter() - start)


def fresh_settings(root: Path, database_url: str | None, **extra):
    """Settings with a new data directory and a migrated database."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for
    from anyseek.settings import load_settings

    settings = load_settings(data_dir=root, database_url=database_url, **extra)
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    return settings


def in_process(settings, model, folder: Path, warm: Path, name: str = "bench") -> float:
    """Images/s of ``run_index`` on the folder into collection ``name`` (after a one-image
    warm-up job)."""
    from anyseek.indexer import run_index

    run_index(settings, f"warmup-{name}", warm, model=model)
    start = time.perf_counter()
    report = run_index(settings, name, folder, model=model)
    elapsed = time.perf_counter() - start
    assert report.done == report.total, report
    return report.total / elapsed


def worker_env(settings, threads: int) -> dict[str, str]:
    """Environment making a worker process read ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env.update(
        ANYSEEK_DATA_DIR=str(settings.data_dir),
        ANYSEEK_DATABASE_URL=settings.effective_database_url,
        ANYSEEK_BROKER_URL=settings.broker_url,
        ANYSEEK_INDEXER__CHUNK_SIZE=str(settings.indexer.chunk_size),
        ANYSEEK_MODEL__SOURCE=settings.model.source,
        OMP_NUM_THREADS=str(threads),
    )
    if settings.model.cache:
        env["ANYSEEK_MODEL__CACHE"] = settings.model.cache
    return env


def wait_job(settings, job_id: int, timeout: float = 900) -> None:
    """Block until the job succeeded (or fail)."""
    from anyseek.db.migrate import open_database
    from anyseek.indexer.jobs import report

    database = open_database(settings)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with database.session() as session:
                status = report(session, job_id).status
            if status == "succeeded":
                return
            if status in ("partial", "failed", "cancelled"):  # a bench job indexes every image
                raise RuntimeError(f"job {job_id} {status}")
            time.sleep(0.05)
    finally:
        database.dispose()
    raise TimeoutError(f"job {job_id} did not finish")


def with_workers(
    settings, count: int, folders: dict[str, Path], warm: Path, logs: Path
) -> dict[str, float]:
    """Images/s of a job per folder run by ``count`` worker processes (the first one also the
    writer), the processes started and warmed up once."""
    from anyseek.workers.app import INDEX_QUEUE, WRITER_QUEUE, check_broker, configure
    from anyseek.workers.submit import submit_job

    app = configure(settings)
    check_broker(app)
    with app.connection_for_write() as connection:
        for queue in (INDEX_QUEUE, WRITER_QUEUE):
            connection.default_channel.queue_purge(queue)
    threads = max(1, (os.cpu_count() or 1) // count)
    processes = []
    for n in range(count):
        queues = "index,writer" if n == 0 else "index"
        log = (logs / f"worker{count}-{n}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [str(ANYSEEK), "worker", "--queues", queues, "--loglevel", "WARNING"],
                env=worker_env(settings, threads),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    try:
        for n in range(count):  # every worker loads its model on a warm-up chunk
            wait_job(settings, submit_job(settings, f"warmup{n}", warm / f"w{n}"))
        rates = {}
        for name, folder in folders.items():
            start = time.perf_counter()
            wait_job(settings, submit_job(settings, f"bench-{name}", folder))
            rates[name] = len(list(folder.iterdir())) / (time.perf_counter() - start)
        return rates
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A URL on a fresh schema of the PostgreSQL database ``url``, dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    schema = f"anyseek_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield parsed.render_as_string(hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


def make_sources(root: Path, count: int, width: int, height: int) -> dict[str, tuple]:
    """The same ``count`` scenes as every kind of source: {name: (source path, SourceForm)}."""
    from anyseek.indexer.records import SourceForm
    from anyseek.scenes import generate_scene
    from anyseek.scenes.modalities import MODALITIES

    encode = {m.name: m.encode for m in MODALITIES}
    folders = {"rgb": "rgb", "depth": "depth", "semseg": "semseg", "sketch": "sketch"}
    for name in folders:
        (root / name).mkdir(parents=True, exist_ok=True)
    captions, records = [], []
    for seed in range(count):
        sample = generate_scene(seed, 64)
        for name, source in folders.items():
            resample = Image.Resampling.NEAREST if name != "rgb" else Image.Resampling.BICUBIC
            picture = Image.fromarray(encode[source](sample)).resize((width, height), resample)
            picture.save(root / name / f"{seed:05d}.png")
        captions.append(json.dumps({"text": sample.captions[0], "key": f"c{seed}"}))
        records.append(
            json.dumps(
                {"key": f"r{seed}", "rgb": f"rgb/{seed:05d}.png", "depth": f"depth/{seed:05d}.png"}
            )
        )
    (root / "captions.jsonl").write_text("\n".join(captions) + "\n")
    (root / "records.jsonl").write_text("\n".join(records) + "\n")
    sources = {f"folder of {n} ({width}x{height} PNG)": (root / n, SourceForm(n)) for n in folders}
    sources["JSONL of captions"] = (root / "captions.jsonl", SourceForm("caption"))
    sources["manifest of rgb + depth records"] = (root / "records.jsonl", SourceForm(manifest=True))
    return sources


def by_modality(args: argparse.Namespace) -> str:
    """Items/s of whole in-process jobs over every kind of source; a Markdown table."""
    from anyseek.indexer import run_index
    from anyseek.indexer.runtime import process_model

    with tempfile.TemporaryDirectory(prefix="anyseek-bench-") as tmp:
        root = Path(tmp)
        sources = make_sources(root / "items", args.images, args.width, args.height)
        settings = fresh_settings(root / "inproc", None, indexer={"chunk_size": args.chunk_size})
        model = process_model(settings)
        rows = []
        for n, (name, (source, form)) in enumerate(sources.items()):
            run_index(settings, f"warm{n}", source, model=model, form=form)  # first use of each
            start = time.perf_counter()
            report = run_index(settings, f"bench{n}", source, model=model, form=form)
            elapsed = time.perf_counter() - start
            assert report.done == report.total, report
            rows.append((name, report.total / elapsed))
    photos = rows[0][1]
    lines = ["| source | items/s | / photos |", "|---|---|---|"]
    lines += [f"| {name} | {rate:.0f} | {rate / photos:.2f} |" for name, rate in rows]
    return "\n".join(lines)


def main() -> None:
    """Run every measurement and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, help="default 400 (--phone: 40)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--chunk-size", type=int, help="default 256 (--phone: 20)")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--modalities", action="store_true", help="every kind of item instead")
    parser.add_argument("--phone", action="store_true", help="12 MP JPEG and HEIC, per family")
    parser.add_argument(
        "--baseline-rev",
        help="with --phone: the built-in model's in-process rows of this git revision and this "
        "tree, in turn on the same photos",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="with --baseline-rev: runs of each, alternating"
    )
    parser.add_argument("--out", type=Path, help="with --modalities or --phone: write it here")
    args = parser.parse_args()
    args.images = args.images or (40 if args.phone else 400)
    args.chunk_size = args.chunk_size or (20 if args.phone else 256)
    if args.baseline_rev and not args.phone:
        parser.error("--baseline-rev goes with --phone")
    if args.phone:
        import indexing_phone

        indexing_phone.run(args)
        return
    if args.modalities:
        import torch

        table = by_modality(args)
        load = os.getloadavg()
        note = (
            f"{args.images} scenes per source, {args.width}x{args.height}; torch threads "
            f"{torch.get_num_threads()}, {os.cpu_count()} CPU cores, load average "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) when it ended; "
            "in-process `run_index` (SQLite, FAISS, built-in model), a warm-up job per source first"
        )
        print(f"{note}\n\n{table}")
        if args.out:
            command = "PYTHONPATH=. .venv/bin/python bench/indexing.py " + " ".join(sys.argv[1:])
            args.out.write_text(f"Command: `{command}`\n\n{note}.\n\n{table}\n")
        return

    import torch

    from anyseek.indexer.runtime import process_model

    with tempfile.TemporaryDirectory(prefix="anyseek-bench-") as tmp:
        root = Path(tmp)
        folder, warm = root / "images", root / "warm"
        make_images(folder, args.images, args.width, args.height)
        for n in range(3):
            make_images(warm / f"w{n}", 1, args.width, args.height)
            (warm / f"w{n}" / "photo00000.jpg").rename(warm / f"w{n}" / f"warm{n}.jpg")
        make_images(warm / "single", 1, 32, 24)
        chunks = {"indexer": {"chunk_size": args.chunk_size}}
        settings = fresh_settings(root / "inproc", None, **chunks)
        model = process_model(settings)
        rows = []
        decode_rate, decoded = decode_only(settings, model, folder)
        rows.append(
            (f"decode only (pool of {settings.indexer.decode_workers} threads)", decode_rate)
        )
        rows.append(
            (
                f"model only (batch {settings.model.batch_size})",
                model_only(settings, model, decoded),
            )
        )
        inproc = in_process(settings, model, folder, warm / "single")
        rows.append(("in-process `run_index` (SQLite, FAISS)", inproc))
        if not args.skip_workers:
            for count in (1, 2):
                with postgres_schema(args.database_url) as url:
                    worker_settings = fresh_settings(
                        root / f"workers{count}", url, broker_url=args.broker, **chunks
                    )
                    rate = with_workers(worker_settings, count, {"": folder}, warm, root)[""]
                rows.append((f"{count} worker process(es) (PostgreSQL, Redis, FAISS)", rate))
    print(
        f"{args.images} JPEG images {args.width}x{args.height}; torch threads "
        f"{torch.get_num_threads()}; {os.cpu_count()} CPU cores\n"
    )
    print("| measure | images/s | / decode-only |")
    print("|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f} | {rate / decode_rate:.2f} |")


if __name__ == "__main__":
    main()
