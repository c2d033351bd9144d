"""Reliability under attack and bad luck (issue 24): a hostile corpus, kill -9 while indexing on
SQLite and PostgreSQL, and concurrent clients with hostile queries mixed in.

1. **Hostile corpus**: a folder of >= 50 kinds of entries (good images in every format and odd
   mode, broken and lying files, bombs, links, loops, FIFOs, sockets, undecodable names...)
   indexed in-process: the job must end, fail each bad entry alone and index each good one.
2. **kill -9 at --points points** (Nth database commit, before or after it) of indexing a
   folder, on SQLite and PostgreSQL; a re-run must leave every image indexed exactly once.
3. **--clients concurrent clients for --seconds** against ``anyseek serve``, 1 query in 10
   hostile (lying ``.npy`` headers, slow segmentations, garbage, an over-cap body streamed without
   Content-Length): 5xx, hangs and good queries harmed must be 0.

PYTHONPATH=. .venv/bin/python bench/reliability.py --out bench/results/reliability.md
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path += [
    str(ROOT / "tests"),
    str(ROOT / "tests" / "reliability"),
    str(ROOT / "tests" / "deployment"),
]

from hostile import npy_header  # noqa: E402
from indexing_checks import collection_state, killed_run, sound  # noqa: E402
from load import Load, summarise  # noqa: E402
from server_process import free_port, wait_ready  # noqa: E402


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _with_exif(image: Image.Image, tiff: bytes) -> bytes:
    """A JPEG of ``image`` whose EXIF segment holds ``tiff`` as given (damaged on purpose)."""
    jpeg = _encoded(image, "JPEG")
    segment = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + jpeg[2:]


def _float_tiff(values: np.ndarray) -> bytes:
    """A 32-bit float TIFF (mode F) of ``values``."""
    return _encoded(Image.fromarray(values, mode="F"), "TIFF")


def hostile_corpus(root: Path) -> dict[str, str]:
    """Write one entry of each kind under ``root``: {kind: expected 'ok'|'fail'|'skip'}."""
    from anyseek.scenes import generate_scene

    rng = np.random.default_rng(0)
    other = Image.fromarray(generate_scene(998_001, 64).rgb)
    kinds: dict[str, str] = {}

    def put(kind: str, name: str, data: bytes, expect: str) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        kinds[kind] = expect

    formats = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP"}
    for i, (ext, fmt) in enumerate(formats.items()):
        put(f"{fmt} image", f"fmt/{ext}.{ext}", _encoded(generate(i), fmt), "ok")
    put("TIFF image", "fmt/t.tiff", _encoded(generate(9), "TIFF"), "ok")
    put("CMYK JPEG", "modes/cmyk.jpg", _encoded(generate(10).convert("CMYK"), "JPEG"), "ok")
    grey16 = Image.fromarray(rng.integers(0, 65535, (40, 50), dtype=np.uint16))
    put("16-bit grey PNG", "modes/g16.png", _encoded(grey16, "PNG"), "ok")
    pal = generate(11).convert("P")
    pal.info["transparency"] = 0
    put("palette + alpha PNG", "modes/pal.png", _encoded(pal, "PNG"), "ok")
    put("LA PNG", "modes/la.png", _encoded(generate(12).convert("LA"), "PNG"), "ok")
    put("1-bit PNG", "modes/bw.png", _encoded(generate(13).convert("1"), "PNG"), "ok")
    put("RGBA PNG", "modes/rgba.png", _encoded(generate(14).convert("RGBA"), "PNG"), "ok")
    put("grey JPEG", "modes/grey.jpg", _encoded(generate(15).convert("L"), "JPEG"), "ok")
    progressive = _encoded(generate(16), "JPEG", progressive=True)
    put("progressive JPEG", "modes/prog.jpg", progressive, "ok")
    exif = Image.Exif()
    exif[0x0112] = 6
    put("EXIF-rotated JPEG", "modes/rot.jpg", _encoded(generate(17), "JPEG", exif=exif), "ok")
    past_end = b"II*\x00" + struct.pack("<IHHHIII", 8, 1, 0x010F, 2, 5000, 9999, 0)
    put("EXIF tag past its end", "modes/exif_long.jpg", _with_exif(generate(33), past_end), "ok")
    garbage = b"MM\x00*" + b"\xff" * 20
    put("corrupt EXIF", "modes/exif_bad.jpg", _with_exif(generate(34), garbage), "ok")
    for kind, value in (("NaN", np.nan), ("infinity", np.inf)):
        floats = np.full((40, 50), 0.5, np.float32)
        floats[5:9, 5:9] = value
        put(f"float TIFF holding {kind}", f"modes/{kind}.tif", _float_tiff(floats), "fail")
    frames = [generate(18 + i).convert("P") for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    put("animated GIF", "modes/anim.gif", out.getvalue(), "ok")
    put("lossless WebP", "modes/ll.webp", _encoded(generate(21), "WEBP", lossless=True), "ok")
    put("1x1 image", "odd/one.png", _encoded(Image.new("RGB", (1, 1)), "PNG"), "ok")
    put("1x2000 strip", "odd/strip.png", _encoded(Image.new("RGB", (1, 2000)), "PNG"), "ok")
    put("PNG named .jpg", "odd/wrong_ext.jpg", _encoded(generate(22), "PNG"), "ok")
    put("name with spaces", "odd/a name with spaces.png", _encoded(generate(23), "PNG"), "ok")
    put("unicode name", "odd/ünïcødé-名前.png", _encoded(generate(24), "PNG"), "ok")
    put("name with newline", "odd/new\nline.png", _encoded(generate(25), "PNG"), "ok")
    put("hidden file", "odd/.hidden.png", _encoded(generate(26), "PNG"), "ok")
    put("long name", "odd/" + "n" * 240 + ".png", _encoded(generate(27), "PNG"), "ok")
    put("deeply nested", "/".join(["d"] * 30) + "/deep.png", _encoded(generate(28), "PNG"), "ok")
    put("duplicate bytes", "odd/dup.png", (root / "fmt/png.png").read_bytes(), "skip")
    png = _encoded(generate(29), "PNG")
    put("zero bytes", "bad/zero.png", b"", "fail")
    put("text named .png", "bad/text.png", b"just some text\n" * 10, "fail")
    put("HTML named .jpg", "bad/page.jpg", b"<!doctype html><html></html>", "fail")
    put("truncated PNG", "bad/trunc.png", png[: len(png) // 2], "fail")
    jpg = _encoded(generate(30), "JPEG")
    put("truncated JPEG", "bad/trunc.jpg", jpg[: len(jpg) // 3], "fail")
    put("PNG bad CRC", "bad/crc.png", png[:40] + bytes([png[40] ^ 0xFF]) + png[41:], "fail")
    put("random bytes", "bad/random.png", rng.integers(0, 255, 4096, np.uint8).tobytes(), "fail")
    put("npy named .png", "bad/array.png", npy_header((4, 4)) + b"\x00" * 64, "fail")
    put("pickle named .png", "bad/pickle.png", b"\x80\x04\x95" + b"\x00" * 64, "fail")
    put("zip named .png", "bad/zip.png", b"PK\x03\x04" + b"\x00" * 64, "fail")
    bomb = _encoded(Image.new("1", (12_000, 12_000)), "PNG")  # 144 MP in ~20 KB
    put("decompression bomb (144 MP)", "bad/bomb.png", bomb, "fail")
    header = png[:16] + (65_000).to_bytes(4, "big") * 2 + png[24:]
    put("lying PNG header (65k x 65k)", "bad/liar.png", header, "fail")
    put("GIF header only", "bad/gif.gif", b"GIF89a\x10\x00\x10\x00", "fail")
    put("BMP header only", "bad/bmp.bmp", b"BM" + b"\x00" * 20, "fail")
    put("TIFF header only", "bad/tiff.tif", b"II*\x00" + b"\x00" * 8, "fail")
    put("WebP header only", "bad/webp.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "fail")
    (root / "links").mkdir()
    (root / "links/loop_a.png").symlink_to(root / "links/loop_b.png")
    (root / "links/loop_b.png").symlink_to(root / "links/loop_a.png")
    kinds["symlink loop (2 links)"] = "fail"
    (root / "links/self.png").symlink_to(root / "links/self.png")
    kinds["symlink to itself"] = "fail"
    (root / "links/broken.png").symlink_to(root / "links/nowhere.png")
    kinds["broken symlink"] = "fail"
    (root / "links/out.png").symlink_to("/etc/passwd")
    kinds["symlink out of the root"] = "skip"
    (root / "links/in.png").symlink_to(root / "fmt/jpg.jpg")
    kinds["symlink inside the root"] = "skip"  # the same bytes as its target: skipped by hash
    (root / "links/dirloop").symlink_to(root / "links", target_is_directory=True)
    kinds["folder symlink loop"] = "skip"
    (root / "links/zero.png").symlink_to("/dev/zero")
    kinds["symlink to /dev/zero"] = "skip"
    (root / "special").mkdir()
    os.mkfifo(root / "special/fifo.png")
    kinds["FIFO"] = "fail"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "special/sock.png"))
    server.close()
    kinds["socket"] = "fail"
    (root / "special/dir.png").mkdir()
    kinds["folder named .png"] = "skip"
    locked = root / "special/locked.png"
    locked.write_bytes(_encoded(generate(31), "PNG"))
    locked.chmod(0)
    kinds["unreadable file (mode 000; root reads it)"] = "ok" if os.geteuid() == 0 else "fail"
    with open(os.fsencode(str(root)) + b"/special/latin1-caf\xe9.png", "wb") as handle:
        handle.write(_encoded(generate(32), "PNG"))
    kinds["non-UTF-8 name"] = "ok"
    put("README without image extension", "special/README", b"readme", "skip")
    put("image without extension", "special/noext", _encoded(other, "PNG"), "skip")
    return kinds


def generate(seed: int) -> Image.Image:
    """A distinct generated scene as a PIL image."""
    from anyseek.scenes import generate_scene

    return Image.fromarray(generate_scene(998_100 + seed, 64).rgb)


def run_corpus(tmp: Path) -> dict[str, object]:
    """Index the hostile corpus in-process (SQLite): counts and time."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for
    from anyseek.indexer import run_index
    from anyseek.settings import load_settings

    root = tmp / "corpus"
    kinds = hostile_corpus(root)
    settings = load_settings(data_dir=tmp / "corpus-data", indexer={"file_timeout_s": 30})
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    start = time.perf_counter()
    done: dict[str, object] = {}

    def index() -> None:
        try:
            done["report"] = run_index(settings, "hostile", root)
        except Exception as exc:  # counted as a crash
            done["crash"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=index, daemon=True)
    thread.start()
    thread.join(600)
    report = done.get("report")
    expected = Counter(kinds.values())
    return {
        "kinds": len(kinds),
        "expected ok / fail / skip": f"{expected['ok']} / {expected['fail']} / {expected['skip']}",
        "hangs": int(thread.is_alive()),
        "crashes": int("crash" in done),
        "status": getattr(report, "status", done.get("crash")),
        "indexed": getattr(report, "done", None),
        "failed (each reported with its reason)": getattr(report, "failed", None),
        "skipped": getattr(report, "skipped", None),
        "messages with memory addresses": sum(
            " at 0x" in reason for _, reason in getattr(report, "failures", ())
        ),
        "seconds": round(time.perf_counter() - start, 1),
        "failures": getattr(report, "failures", ()),
    }


def run_kills(tmp: Path, points: int, postgres_url: str | None) -> list[dict[str, object]]:
    """kill -9 at ``points`` commits of indexing, then a re-run, on each database."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for
    from anyseek.indexer import run_index
    from anyseek.indexer.runtime import process_model
    from anyseek.settings import load_settings

    images = tmp / "kill-images"
    images.mkdir()
    for n in range(9):
        generate(100 + n).save(images / f"s{n}.png")
    rows = []
    backends = {"sqlite": None, **({"postgresql": postgres_url} if postgres_url else {})}
    for backend, base_url in backends.items():
        counts = Counter()
        for point in range(points):
            when = "before" if point % 2 == 0 else "after"
            n = 2 + point * 29 // max(1, points - 1)  # spread over the ~31 commits of a run
            data = tmp / f"kill-{backend}-{point}"
            schema = None
            if base_url is None:
                url = f"sqlite:///{data}/anyseek.db"
            else:
                url, schema = _pg_schema(base_url)
            settings = load_settings(
                data_dir=data, database_url=url, indexer={"chunk_size": 3, "flush_interval_s": 0}
            )
            database = database_for(settings, create_dirs=True)
            migrate.upgrade(database)
            database.dispose()
            env = {
                "ANYSEEK_DATA_DIR": str(data),
                "ANYSEEK_DATABASE_URL": url,
                "ANYSEEK_INDEXER__CHUNK_SIZE": "3",
                "ANYSEEK_INDEXER__FLUSH_INTERVAL_S": "0",
            }
            code = killed_run(env, images, "k", when, n)
            counts["killed"] += code == -signal.SIGKILL
            left = collection_state(settings, "k")
            counts["orphans after the kill"] += left.orphans
            again = run_index(settings, "k", images, model=process_model(settings))
            state = collection_state(settings, "k")
            counts["runs"] += 1
            counts["sound after re-run"] += sound(state, 9)
            counts["lost"] += max(0, 9 - state.indexed)
            counts["duplicated"] += state.items - state.distinct
            counts["stray vectors"] += state.stray_vectors
            counts["recovered by the re-run"] += again.recovered
            if schema is not None:
                _drop_schema(base_url, schema)
        rows.append({"database": backend, **counts})
    return rows


def _pg_schema(base_url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    schema = f"anyseek_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _drop_schema(base_url: str, schema: str) -> None:
    from sqlalchemy import create_engine

    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def run_clients(tmp: Path, clients: int, seconds: float) -> dict[str, object]:
    """``clients`` threads searching ``anyseek serve`` for ``seconds``, 1 query in 10 hostile."""

    from anyseek.db import migrate
    from anyseek.db.session import database_for
    from anyseek.indexer import run_index
    from anyseek.settings import load_settings

    data = tmp / "serve-data"
    gallery = tmp / "serve-gallery"
    gallery.mkdir()
    for n in range(40):
        generate(200 + n).save(gallery / f"g{n}.png")
    settings = load_settings(data_dir=data)
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    run_index(settings, "g", gallery)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env.update(ANYSEEK_DATA_DIR=str(data), PYTHONPATH=str(ROOT), ANYSEEK_API__PORT=str(port))
    server = subprocess.Popen(
        [sys.executable, "-m", "anyseek.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, 150)
        return _load(base, clients, seconds)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def _load(base: str, clients: int, seconds: float) -> dict[str, object]:
    """The shared load generator (tests/deployment/load.py) for ``seconds``, summarised."""
    load = Load(base, "g", clients).start()
    time.sleep(seconds)
    load.stop()
    summary = summarise(load.answers)
    hostile = [a for a in load.answers if not a.good]
    per_kind = Counter(f"hostile: {a.kind} -> {a.outcome}" for a in hostile)
    return {
        "cases": summary.queries,
        "good": summary.good,
        "hostile": len(hostile),
        "hostile answered 4xx": sum(a.outcome.startswith("4") for a in hostile),
        "5xx": summary.five_xx,
        "hang": summary.hangs,
        "reset": sum(a.outcome.startswith("reset") for a in load.answers),
        **dict(sorted(per_kind.items())),
        "good queries harmed": summary.harmed,
        "good p50 ms": summary.p50_ms,
        "good p99 ms": summary.p99_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip", nargs="*", default=[], choices=["corpus", "kills", "clients"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if "corpus" not in args.skip:
            results["corpus"] = run_corpus(tmp)
            print(results["corpus"], flush=True)
        if "kills" not in args.skip:
            results["kills"] = run_kills(tmp, args.points, args.postgres)
            print(results["kills"], flush=True)
        if "clients" not in args.skip:
            results["clients"] = run_clients(tmp, args.clients, args.seconds)
            print(results["clients"], flush=True)
    if args.out is not None:
        args.out.write_text(render(results, args))


def render(results: dict, args: argparse.Namespace) -> str:
    """The results as the markdown tables of bench/results/reliability.md."""
    lines = [f"<!-- generated by bench/reliability.py {time.strftime('%Y-%m-%d %H:%M')} -->"]
    corpus = results.get("corpus")
    if corpus:
        lines += ["", "## Hostile corpus", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in corpus.items() if k != "failures"]
        lines += ["", "Reasons recorded on the job:", ""]
        lines += [f"- `{Path(uri).name}`: {reason}" for uri, reason in corpus["failures"]]
    kills = results.get("kills")
    if kills:
        keys = list(kills[0])
        lines += ["", f"## kill -9 at {args.points} points of indexing", ""]
        lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(row.get(k, 0)) for k in keys) + " |" for row in kills]
    clients = results.get("clients")
    if clients:
        lines += ["", f"## {args.clients} clients, {args.seconds:g} s, 1 query in 10 hostile", ""]
        lines += ["| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in clients.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
