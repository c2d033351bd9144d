"""Turn ``bench/results/scale.json`` into a markdown table and a latency/memory plot."""

from __future__ import annotations

import json
from pathlib import Path

KINDS = ("caption", "sketch", "depth", "semseg", "image")
FIRST_PASS = "first pass"
"""Note of the rows measured before the write path and payload rework (marked † in the table)."""


def table(data: dict) -> str:
    """One row per (size, configuration, query kind), the service's own index marked."""
    lines = [
        "| items | store | service's | build s | RAM GB | disk GB | .faiss GB | recall@10 | "
        "outbox vec/s | query | p50 ms | p95 ms | p99 ms | q/s, 16 clients |",
        "|---:|---|:-:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for size, entry in data.items():
        for c in entry["configs"]:
            mark = "*" if c["config"] == entry.get("service_config") else ""
            store = c["index"] + (" †" if c.get("note", "").startswith(FIRST_PASS) else "")
            for kind, q in c["queries"].items():
                lines.append(
                    f"| {int(size):,} | {store} | {mark} | {c['build_s']:.0f} | "
                    f"{c['ram_gb']:.2f} | {c['disk_gb']:.3f} | {c['index_file_gb']:.3f} | "
                    f"{c['recall_at_10']:.3f} | {c['outbox_vectors_per_s']:,.0f} | {kind} | "
                    f"{q['p50_ms']:.1f} | {q['p95_ms']:.1f} | {q['p99_ms']:.1f} | "
                    f"{q['qps_16_clients']:.1f} |"
                )
    if any(c.get("note", "").startswith(FIRST_PASS) for e in data.values() for c in e["configs"]):
        lines.append(
            "\n† first pass (two sessions earlier): measured before segments, compact payloads, "
            "IVF read into memory and the server's thread set-up; the other rows: this session"
        )
    return "\n".join(lines) + "\n"


def plot(data: dict, path: Path) -> None:
    """p50/p99 per query kind and RAM/disk against collection size, per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = sorted({c["config"] for e in data.values() for c in e["configs"]})
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(12, 4.5))
    for config in configs:
        rows = [(int(s), c) for s, e in data.items() for c in e["configs"] if c["config"] == config]
        sizes = [s for s, _ in rows]
        p50 = [max(c["queries"][k]["p50_ms"] for k in KINDS if k in c["queries"]) for _, c in rows]
        p99 = [max(c["queries"][k]["p99_ms"] for k in KINDS if k in c["queries"]) for _, c in rows]
        (line,) = lat.plot(sizes, p50, "o-", label=f"{config} p50 (slowest kind)")
        lat.plot(sizes, p99, "o--", color=line.get_color(), label=f"{config} p99")
        for key, style, what in (("ram_gb", "o-", "server RSS"), ("disk_gb", "s--", "disk")):
            values = [c[key] for _, c in rows]
            mem.plot(sizes, values, style, color=line.get_color(), label=f"{config} {what}")
    lat.axhline(25, color="grey", lw=0.8)
    lat.axhline(60, color="grey", lw=0.8, ls="--")
    lat.set(
        xscale="log", yscale="log", xlabel="items", ylabel="ms over HTTP", title="query latency"
    )
    mem.set(xscale="log", yscale="log", xlabel="items", ylabel="GB", title="memory and disk")
    lat.legend(fontsize=7)
    mem.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def render(path: Path) -> None:
    """Print the table; write the plot beside the JSON when matplotlib is there."""
    data = json.loads(path.read_text())
    print(table(data))
    try:
        plot(data, path.with_suffix(".png"))
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
