"""Faults across hosts at full size (issue 40): every fault of tests/deployment/faults.py on Redis
and on RabbitMQ, each during a bulk job of several thousand images and 16 search clients (1 query
in 10 hostile), plus 60 s of load beside indexing with no fault; one table of what held.

Needs root (network namespaces, a tmpfs), redis-server, rabbitmq-server and PostgreSQL's initdb.

sudo PYTHONPATH=. .venv/bin/python bench/deployment.py --out bench/results/deployment.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path += [str(ROOT / "tests"), str(ROOT / "tests" / "deployment")]
from cluster import Cluster, Sizes  # noqa: E402
from faults import FAULTS, FaultResult, run_fault, run_load  # noqa: E402
from netns import why_not_available  # noqa: E402
from services import why_missing  # noqa: E402
from workload import make_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--chunk", type=int, default=32)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds each fault lasts")
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--visibility", type=int, default=30, help="Redis visibility timeout, s")
    parser.add_argument("--brokers", default="redis,rabbitmq")
    parser.add_argument("--faults", default=",".join(f.name for f in FAULTS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/deployment.md")
    args = parser.parse_args()
    reason = why_not_available() or why_missing()
    if reason:
        sys.exit(f"bench/deployment.py: no multi-host test bed here: {reason}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # so the bed is torn down
    sizes = Sizes(
        images=args.images,
        chunk=args.chunk,
        outage_s=args.outage,
        disk_mb=256,
        visibility_s=args.visibility,
    )
    chosen = [f for f in FAULTS if f.name in args.faults.split(",")]
    results: list[FaultResult] = []
    failures: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="anyseek-bench-images-") as folder:
        os.chmod(folder, 0o755)
        images = Path(folder) / "images"
        make_images(images, sizes.images)
        for broker in args.brokers.split(","):
            cluster = Cluster(broker, sizes, images)
            try:
                runs = [("none", None)] + [(f.name, f) for f in chosen]
                for name, fault in runs:
                    collection = f"{name}-{broker}"
                    print(f"{broker} {name} ...", flush=True)
                    try:
                        result = (
                            run_load(cluster, collection, sizes.images, args.load_seconds)
                            if fault is None
                            else run_fault(cluster, fault, collection, sizes.images)
                        )
                    except Exception as error:  # a run that did not end is a row, not a crash
                        failures.append(f"{name} on {broker}: {type(error).__name__}: {error}")
                        print(f"  FAILED: {failures[-1]}\n{cluster.log_tails()}", flush=True)
                        continue
                    print(f"  {row(result)}", flush=True)
                    results.append(result)
            finally:
                cluster.close()
    wall = (time.monotonic() - started) / 60
    args.out.write_text(render(results, failures, sizes, args, wall))
    print(f"wrote {args.out}")


HEADER = (
    "| fault | broker | exactly once | lost | duplicated | job | chunks resent | recovery s | "
    "job s | 5xx | hangs | good harmed | hostile 5xx/hang | 503 + Retry-After | unreachable | "
    "good p50 / p99 ms | w1's chunk back s |"
)


def row(result: FaultResult) -> str:
    """One table row."""
    o, seen = result.outcome, result.overall
    recovery = "not recovered" if result.recovery_s is None else f"{result.recovery_s:.1f}"
    return (
        f"| {result.fault} | {result.broker} | {'yes' if o.exactly_once else '**no**'} | "
        f"{o.lost} | {o.duplicated} | {o.status} {o.job_done}/{o.files} | {result.resent} | "
        f"{recovery} | "
        f"{result.job_s:.0f} | {seen.five_xx} | {seen.hangs} | {seen.harmed} | "
        f"{seen.hostile_bad} | {seen.refused_503} | {seen.unreachable} | "
        f"{seen.p50_ms} / {seen.p99_ms} | "
        f"{'-' if result.chunk_back_s is None else f'{result.chunk_back_s:.1f}'} |"
    )


def render(
    results: list[FaultResult],
    failures: list[str],
    sizes: Sizes,
    args: argparse.Namespace,
    wall: float,
) -> str:
    """The results file."""
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "# Faults across hosts (issue 40)",
        "",
        "Command: `sudo PYTHONPATH=. .venv/bin/python bench/deployment.py` "
        f"(--images {args.images} --chunk {args.chunk} --outage {args.outage:g} "
        f"--load-seconds {args.load_seconds:g} --visibility {args.visibility}); "
        f"{platform.node() or 'this machine'}: {os.cpu_count()} cores, no GPU; "
        f"wall time: {wall:.0f} min; load average at the end: {load_avg}.",
        "",
        "Five hosts, each a network namespace on one bridge: `db` (PostgreSQL, its own initdb), "
        "`mq` (Redis with an append-only file, or RabbitMQ), `api` (`anyseek serve` and the FAISS "
        f"writer worker, its data on a {sizes.disk_mb} MB tmpfs), `w1` and `w2` (`anyseek worker "
        "--queues index --pool solo`). Each run indexes the same "
        f"{sizes.images} generated images into a new collection through `POST /v1/jobs` while "
        "16 clients search it (1 query in 10 hostile), and injects its fault once 10% is indexed, "
        f"for {sizes.outage_s:g} s (a host gone for good is not healed).",
        "",
        "*exactly once*: job succeeded, and job count = items = distinct images = indexed items = "
        "vectors in the store = files, outbox empty. *recovery*: from the end of the outage (or "
        "the kill) to the first index progress and the first answered search after it, "
        "whichever is later; no manual step anywhere. *chunks resent*: chunks a broker lost, "
        "sent again by the writer's watchdog once the job stalled (`workers/watchdog.py`). "
        "*w1's chunk back*: each fault strikes once w1's worker holds a chunk's lease; from the "
        "fault to that chunk being staged by another worker (its lease ran out and a sweep sent "
        "it again, or the broker redelivered it), read from the chunk's `finished_at` after the "
        "run; - when w1 held none within 30 s, or staged it before the fault. "
        "*unreachable*: the API host itself was down "
        "(connection refused, or reset under a request when it was killed). Load counts are over "
        "the whole run.",
        "",
        HEADER,
        "|" + "---|" * (HEADER.count("|") - 1),
        *[row(result) for result in results],
        "",
        "Runs that did not end: " + ("; ".join(failures) if failures else "none."),
        "",
        "Outcomes per run (good / hostile queries):",
        "",
    ]
    for result in results:
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(result.overall.outcomes.items()))
        lines.append(f"- {result.fault} on {result.broker}: {outcomes}")
    lines += ["", "Raw results:", "", "```"]
    lines += [repr(dataclasses.asdict(result)) for result in results]
    lines += ["```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
