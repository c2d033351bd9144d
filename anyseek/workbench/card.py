"""The model card of a trained bound model, written from what its run measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anyseek.model.bundle.files import BUNDLE_FILE

KINDS = ("sketch", "depth", "semseg", "normal", "edges", "caption", "object",
         "caption+sketch", "caption+depth", "sketch+semseg")  # fmt: skip


def _cell(report: dict[str, Any], kind: str, metric: str) -> str:
    """One metric of a report row, from its fused (or only) space."""
    rows = report.get(kind)
    if not rows:
        return ""
    metrics = rows.get("fused") or next(m for s, m in rows.items() if "R@1" in m)
    return f"{metrics[metric]:.3f}" if metric in metrics else ""


def results_table(report: dict[str, Any]) -> list[str]:
    """Markdown rows: every query kind with R@1, R@10, MRR and attr_P@10."""
    lines = ["| query | R@1 | R@10 | MRR | attr_P@10 |", "|---|---|---|---|---|"]
    kinds = [k for k in report if k != "random"]
    for kind in sorted(kinds, key=lambda k: (k.split(" ")[0] not in KINDS, "(" in k)):
        cells = [_cell(report, kind, m) for m in ("R@1", "R@10", "MRR", "attr_P@10")]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return lines


def curve_table(history: list[dict[str, Any]], columns: tuple[str, ...]) -> list[str]:
    """Markdown rows of the learning curve: minutes, step, losses and chosen metrics."""
    head = ["minutes", "step", "pixel loss", "text loss", *columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in history:
        values = [r["minutes"], r["step"], r["pixel_loss"], r["text_loss"]]
        values += [r.get(c, "") for c in columns]
        lines.append("| " + " | ".join(str(v) for v in values) + " |")
    return lines


CURVE_COLUMNS = (
    "sketch R@1", "depth R@1", "semseg R@1", "normal R@1", "caption R@1",
    "sketch (default) R@10", "semseg (default) R@10",
    "sketch (scrawl, held out) R@10", "semseg (scrawl, held out) R@10",
)  # fmt: skip


def _read(bundle: Path, name: str) -> Any:
    """One JSON file of the bundle."""
    return json.loads((bundle / name).read_text())


def render_card(bundle: Path) -> str:
    """``MODEL_CARD.md`` of a built-in model folder, from its own files only: the generation and
    run facts in ``bundle.json``, the recipe, the retrieval report and the learning curve."""
    manifest = _read(bundle, BUNDLE_FILE)
    recipe = _read(bundle, "train_config.json")
    report = _read(bundle, "eval.json")
    history = _read(bundle, "history.json")
    facts = manifest.get("training", {})
    generation = manifest.get("generation", "")
    run_dir = f"runs/{generation or recipe['name']}"
    data, val, train = recipe["data"], recipe["val"], recipe["train"]
    lines = [
        f"# anyseek built-in model (bound{', ' + generation if generation else ''})",
        "",
        "The default model of anyseek (`ANYSEEK_MODEL__SOURCE=builtin`), trained from nothing",
        "on procedurally generated scenes by one command on a 2-core CPU. Every input modality",
        "(image, depth, normals, segmentation, sketch, edges, caption) is embedded into one",
        "256-d space where its scene's image lies; several inputs at once are the normalised",
        "weighted sum of their vectors (`model/builtin`, `docs/builtin_model.md`).",
        "",
        "## Reproduce",
        "",
        "```",
        f"anyseek train default --recipe {recipe['name']} --out {run_dir}",
        f"cp -r {run_dir}/bundle/* model/builtin/weights/",
        "```",
        "",
        "Resumable: after a stop or a kill, the same command with `--resume` goes on from the last",
        "finished chunk.",
        "",
        "## Data",
        "",
        f"{data['scenes']} training scenes at {data['size']} px (seed {data['seed']}),",
        f"each drawn again by the people {', '.join(data['styles'])} "
        "(`anyseek/workbench/styles.py`);",
        f"validation on {val['scenes']} held-out scenes (seed {val['seed']}) with the",
        f"people {', '.join(val['styles'])}; `scrawl` is never trained on.",
        "",
        "## Training",
        "",
        f"Config `{recipe['model']}` ({facts.get('parameters', 0) / 1e6:.2f} M parameters,",
        f"{facts.get('bundle_mb', 0):.1f} MB of float32 weights); {train['steps']} steps of",
        f"{train['batch']} scenes, AdamW lr {train['lr']}, "
        f"{facts.get('precision', 'float32')}; "
        f"{facts.get('wall_minutes', 0):.0f} min wall time on {facts.get('machine', 'this CPU')}.",
        "",
        "```json",
        json.dumps(recipe, indent=1),
        "```",
        "",
        "## Learning curve (validation gallery, after every chunk)",
        "",
        *curve_table(history, CURVE_COLUMNS),
        "",
        f"## Retrieval ({val['scenes']} held-out scenes, seed {val['seed']})",
        "",
        *results_table(report),
        "",
        "Random ranking: R@1 "
        f"{report['random']['none']['R@1']:.4f}, R@10 "
        f"{report['random']['none']['R@10']:.4f}.",
        "",
    ]
    return "\n".join(lines)


def write_card(bundle: Path) -> Path:
    """Write ``MODEL_CARD.md`` into the bundle folder from the bundle's own files."""
    path = bundle / "MODEL_CARD.md"
    path.write_text(render_card(bundle))
    return path
