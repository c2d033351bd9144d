"""The model card of a trained bound model, written from what its run measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.metrics import RetrievalResult
from workbench.recipe import Recipe

GENERATION = "v9"  # the built-in design's generation this workbench trains (bump with the recipe)

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


def write_card(
    path: Path,
    recipe: Recipe,
    result: RetrievalResult,
    history: list[dict[str, Any]],
    facts: dict[str, Any],
) -> None:
    """``MODEL_CARD.md``: what the model is, how to reproduce it, what it measured."""
    lines = [
        f"# anyseek built-in model (bound, {GENERATION})",
        "",
        "The default model of anyseek (`ANYSEEK_MODEL__SOURCE=builtin`), trained from nothing",
        "on procedurally generated scenes by one command on a 2-core CPU. Every input modality",
        "(image, depth, normals, segmentation, sketch, edges, caption) is embedded into one",
        "256-d space where its scene's image lies; several inputs at once are the normalised",
        "weighted sum of their vectors (`model/bind`, `docs/builtin_model.md`).",
        "",
        "## Reproduce",
        "",
        "```",
        f"anyseek train default --recipe {recipe.name} --out runs/{GENERATION}",
        f"cp -r runs/{GENERATION}/bundle/* model/builtin/",
        "```",
        "",
        "Resumable: after a stop or a kill, the same command with `--resume` goes on from the last",
        "finished chunk.",
        "",
        "## Data",
        "",
        f"{recipe.data.scenes} training scenes at {recipe.data.size} px (seed {recipe.data.seed}),",
        f"each drawn again by the people {', '.join(recipe.data.styles)} (`workbench/styles.py`);",
        f"validation on {recipe.val.scenes} held-out scenes (seed {recipe.val.seed}) with the",
        f"people {', '.join(recipe.val.styles)}; `scrawl` is never trained on.",
        "",
        "## Training",
        "",
        f"Config `{recipe.model}` ({facts.get('parameters', 0) / 1e6:.2f} M parameters,",
        f"{facts.get('bundle_mb', 0):.1f} MB of float32 weights); {recipe.train.steps} steps of",
        f"{recipe.train.batch} scenes, AdamW lr {recipe.train.lr}, "
        f"{facts.get('precision', 'bf16 autocast' if recipe.train.bf16 else 'float32')}; "
        f"{facts.get('wall_minutes', 0):.0f} min wall time on {facts.get('machine', 'this CPU')}.",
        "",
        "```json",
        json.dumps(recipe.to_json(), indent=1),
        "```",
        "",
        "## Learning curve (validation gallery, after every chunk)",
        "",
        *curve_table(history, CURVE_COLUMNS),
        "",
        f"## Retrieval ({result.n} held-out scenes, seed {result.seed})",
        "",
        *results_table(result.report),
        "",
        "Random ranking: R@1 "
        f"{result.report['random']['none']['R@1']:.4f}, R@10 "
        f"{result.report['random']['none']['R@10']:.4f}.",
        "",
    ]
    path.write_text("\n".join(lines))
