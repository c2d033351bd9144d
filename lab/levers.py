"""Short training runs that measure the next recipe's levers against the shipped recipe's own.

    PYTHONPATH=. .venv/bin/python lab/levers.py --root runs/levers \
        --out lab/results/levers.md

Each *arm* is the ``default`` recipe (``anyseek/workbench/recipes/default.json``) made short
(``--scenes``
training scenes, ``--steps`` steps, validation every ``--chunk-minutes``) with one lever switched
on; ``base`` switches none. Every arm trains through ``anyseek.workbench.training_run`` exactly as
``anyseek train default`` does, so it checkpoints per chunk and a second call resumes it (arms
already finished are read, not retrained). Arms with the same data share one rendered set. The
report is each arm's learning curve (the per-chunk validation on the held-out gallery) and its
final evaluation beside ``base``.

Issue 53's levers (``content_box``, ``cross_pairs``, ``cross_captions``, ``cells``,
``cells_cross``; v10 ships the cell head and the cross pairs, so those arms now equal ``base``)
each have a ``_seed1`` twin, and so do ``pixels_96`` and ``base_900`` (base at the minutes a
500-step ``pixels_96`` arm trains), a seed-1 arm being compared with ``base_seed1``;
*warm* arms (``warm_*``) start from the shipped model and are compared with ``warm_base`` (their
``_seed1`` twins with ``warm_base_seed1``);
the validation curves do not show pairs without the image, so ``--pairs-n N`` also measures
``lab/any_to_any.py``'s table on every arm's bundle (kept beside it) and reports chosen pairs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.workbench.recipe import Recipe, load_recipe
from anyseek.workbench.styles import RANDOM, RANDOM_WIDE
from anyseek.workbench.training_run import Run, run_pipeline

BOXED = {"sketch": {"content_box": True, "box_margin": 0.06}}  # the content_box arm's
#: the object_rows_half_twins arm's training (v11d's recipe, short)
HALF_TWINS = {
    "object_rows": 0.5,
    "object_rows_both_ways": True,
    "twin_rows": True,
    "cross_second": 0.0,
    "steps": 1140,
}
#: a warm arm's start: the shipped model's weights and vocabulary, a quarter of the recipe's
#: peak learning rate, a short warm-up
WARM = {"start_from": "builtin", "lr": 5e-4, "warmup": 50}
CAPTION_PAIRS = tuple(("caption", q) for q in ("depth", "normal", "semseg", "sketch", "edges"))

ARMS: dict[str, tuple[str, dict[str, dict[str, object]]]] = {
    "base": ("the shipped recipe, short", {}),
    "object_positives": (
        "a one-object caption's positives are every scene of the batch with that object",
        {"train": {"object_positives": True}},
    ),
    "random_person": (
        "a fifth training style: every drawing by a new person with random knobs",
        {"data": {"styles": ("default", "tidy", "rough", "loose", RANDOM)}},
    ),
    "random_wide": (
        "a fifth training style: every drawing by a new person whose knobs span the widest range",
        {"data": {"styles": ("default", "tidy", "rough", "loose", RANDOM_WIDE)}},
    ),
    "shift_wide": (
        "drawings shifted on the fly more often and twice as far (p_shift 0.8, shift 0.16)",
        {"train": {"p_shift": 0.8, "shift": 0.16}},
    ),
    "focus_drawn": (
        "sketch and semseg weigh 2.5 against the other pixel queries' 1 (62 % of pixel rows, "
        "was 40 %), 80 % of them a person's drawing (was 60 %)",
        {"train": {"query_weights": {"sketch": 2.5, "semseg": 2.5}, "p_drawn": 0.8}},
    ),
    "focus_more": (
        "sketch and semseg weigh 4 (73 % of pixel rows), 90 % of them a person's drawing",
        {"train": {"query_weights": {"sketch": 4.0, "semseg": 4.0}, "p_drawn": 0.9}},
    ),
    "presence": (
        "the presence loss: every caption against every image of the batch, a sigmoid each, "
        "labelled by whether the scene has what the caption states (weight 1)",
        {"train": {"presence_weight": 1.0}},
    ),
    "presence_light": (
        "the presence loss at weight 0.1",
        {"train": {"presence_weight": 0.1}},
    ),
    "warp": (
        "half of the drawings bent on the fly: their parts moved apart by a smooth random "
        "field (standard deviation 6 % of the page, 4 moves across a side)",
        {"train": {"p_warp": 0.5, "warp": 0.06}},
    ),
    "max_pool": (
        "both trunks also hand their head the last stage's maximum over the 4x4 grid (what is "
        "there, wherever it is) beside the flattened grid (model/builtin/configs/max_pool.json; "
        "shipped since v7, so now the same as base)",
        {"recipe": {"model": "max_pool"}},
    ),
    "attn_pool": (
        "both trunks' heads also read 4 learned queries, each a softmax-weighted average of the "
        "grid's cells (one object each, wherever it is; model/builtin/configs/attn_pool.json)",
        {"recipe": {"model": "attn_pool"}},
    ),
    "grid_only": (
        "the trunk without the max, only the flattened grid (v4-v6's default.json): since v7 "
        "ships max_pool, this is v6's recipe, the base of levers_presence.md",
        {"recipe": {"model": "default"}},
    ),
    "attributes": (
        "an auxiliary head reads each scene's objects off its image vector: which (shape, "
        "colour[, size][, material]) conjunctions it has, a sigmoid each (workbench.attributes, "
        "weight 1; training only)",
        {"train": {"attribute_weight": 1.0}},
    ),
    "attributes_light": (
        "the attribute head at weight 0.1",
        {"train": {"attribute_weight": 0.1}},
    ),
    "cells": (
        "a 1x1 head on the image trunk's last grid says which (shape, colour[, size][, "
        "material]) conjunctions of the objects drawn in each cell it sees, a sigmoid each "
        "(workbench.cells, weight 1; training only): binding asked of a cell, not a scene "
        "(shipped since v10, so now the same as base)",
        {"train": {"cell_weight": 1.0}},
    ),
    "cells_light": (
        "the cell head at weight 0.1",
        {"train": {"cell_weight": 0.1}},
    ),
    "negatives": (
        "every caption row also gets a binding negative: its caption one attribute away from "
        "true (two colours, shapes, sizes or materials swapped, or one replaced by another "
        "object's), checked false of the scene, which its image must rank below its own "
        "(workbench.negatives, NegCLIP's hard negatives)",
        {"train": {"binding_negatives": 1.0}},
    ),
    "negatives_half": (
        "half of the caption rows get a binding negative",
        {"train": {"binding_negatives": 0.5}},
    ),
    "scenes_3x": (
        "three times the distinct training scenes (18,000 instead of --scenes 6,000), each seen a "
        "third as often in the same steps",
        {"data": {"scenes": 18_000}},
    ),
    "scenes_third": (
        "a third of the distinct training scenes (2,000), each seen three times as often",
        {"data": {"scenes": 2_000}},
    ),
    "object_heavy": (
        "object_positives, and 40 % of caption rows name one object (shipped: 15 %)",
        {"train": {"object_positives": True, "p_object_caption": 0.4}},
    ),
    "content_box": (
        "a sketch (the generator's and people's) is read from the square around its lines, their "
        "bounding box grown by 6 % of its longer side and centred, not from the page: the bundle "
        "declares it (SketchTransform content_box, data.input_settings) and training renders "
        "with it; sketches are then never shifted on the fly",
        {"data": {"input_settings": BOXED}},
    ),
    "cross_pairs": (
        "InfoNCE between every pair of non-rgb modalities of the same scenes (caption and pixel "
        "queries; workbench.cross, weight 0.5), half the rows with a second pixel query "
        "(shipped since v10, so now the same as base)",
        {"train": {"cross_weight": 0.5}},
    ),
    "cross_captions": (
        "the cross pairs of the caption only (caption with depth, normal, semseg, sketch, "
        "edges; weight 0.5): no second pixel query, no extra compute",
        {"train": {"cross_weight": 0.5, "cross_pairs": CAPTION_PAIRS}},
    ),
    "cells_cross": (
        "the cell head (weight 1) and every cross pair (weight 0.5), drawings read from the "
        "page (v10's recipe, shipped since v10, so now the same as base)",
        {"train": {"cell_weight": 1.0, "cross_weight": 0.5}},
    ),
    "pixels_96": (
        "the image and every pixel query at 96 pixels instead of 64 (rendered at 96; the trunk's "
        "last grid 6x6, so a cell of the cell head sees an object at 2.25 times the pixels): "
        "model/builtin/configs/max_pool_96.json",
        {"recipe": {"model": "max_pool_96"}, "data": {"size": 96}},
    ),
    "wide_max": (
        "before the maximum over the image and query trunks' last grid, a 1x1 conv and GELU "
        "widen its 128 channels to 512 (model/builtin/configs/max_pool_wide.json): room for a "
        "channel per object, so the maximum keeps a colour with its shape, where the cell head "
        "asks each cell for the objects it holds",
        {"recipe": {"model": "max_pool_wide"}},
    ),
    "base_900": (
        "the shipped recipe at 64 pixels given 900 steps, the training minutes a 500-step "
        "pixels_96 arm takes (its step costs 1.8 times base's on the machine of "
        "levers_pixels_seed1.md): the two sides at equal minutes, each schedule run to its end",
        {"train": {"steps": 900}},
    ),
    "object_rows": (
        "every scene of a batch also brings an extra caption row naming one of its objects, "
        "beside its caption rather than in its place; each picks among the batch's images, "
        "every scene with that object right (train.object_rows 1, object_weight 1)",
        {"train": {"object_rows": 1.0}},
    ),
    "object_rows_both": (
        "object_rows, the extra one-object rows joining the caption loss both ways: each image "
        "also picks among its caption and the object rows it fits, as v11's one-object captions "
        "did in the captions' place (train.object_rows_both_ways)",
        {"train": {"object_rows": 1.0, "object_rows_both_ways": True}},
    ),
    "object_rows_half": (
        "object_rows_both for half the scenes of a batch: an extra one-object row beside the "
        "caption of one scene in two, the lighter dose of v11b's lever (train.object_rows 0.5)",
        {"train": {"object_rows": 0.5, "object_rows_both_ways": True}},
    ),
    "placement": (
        "half of the people's drawings with each object moved and resized by itself (std 6 % "
        "of the page, size std 0.2 in log), three in ten squeezed as onto a page of width / "
        "height 0.45-2.2 (anyseek.workbench.placement)",
        {"train": {"p_place": 0.5, "p_page": 0.3}},
    ),
    "second_quarter": (
        "a second pixel query on a quarter of the rows instead of half (train.cross_second "
        "0.25): the pixel pairs' term for 8 % less of a step",
        {"train": {"cross_second": 0.25}},
    ),
    "same_person_pairs": (
        "a row whose first query is a person's sketch (painting) and that has a second query "
        "shows that person's painting (sketch) as it: one placement of the objects in both "
        "(train.same_person_pairs), so the pair teaches the sketch which shape is where",
        {"train": {"same_person_pairs": True}},
    ),
    "twin_rows": (
        "each scene of a batch on two rows, each with its own pixel query and caption: the "
        "image tower embeds 128 images, not 256, and the two rows' queries are the pixel "
        "pairs, with no second pass through the trunk (train.twin_rows, cross_second 0; "
        "anyseek.workbench.twins)",
        {"train": {"twin_rows": True, "cross_second": 0.0}},
    ),
    "twin_rows_1140": (
        "twin_rows given 1,140 steps, 1.43 times base's 800: about base's minutes, as a "
        "twin step costs 0.6-0.7 of base's (levers_twins.md)",
        {"train": {"twin_rows": True, "cross_second": 0.0, "steps": 1140}},
    ),
    "twin_rows_960": (
        "twin_rows given 960 steps, 1.2 times base's 800: between base's step count and its "
        "minutes, nearer what a full run inside 120 minutes on a slower machine could pay",
        {"train": {"twin_rows": True, "cross_second": 0.0, "steps": 960}},
    ),
    "object_rows_half_twins": (
        "object_rows_half with twin rows at 1,140 steps (about the minutes of 800 without): "
        "whether v11c's lever keeps its binding when twin rows spend the step's minutes",
        {"train": HALF_TWINS},
    ),
    "object_rows_half_twins_partial": (
        "object_rows_half_twins with a third of the scene captions partial, each word left out "
        "with probability 0.4 (workbench.partial): whether captions read with words missing, "
        "as people's everyday words reach the model, keep people's captions where v9 had them",
        {"train": {**HALF_TWINS, "p_partial_caption": 0.33}},
    ),
    "colour_rows": (
        "half the scenes bring their short caption cut to its colours as an extra row beside "
        "their caption (workbench.colours): whether captions read from their colours alone, as "
        "people's everyday words reach the model, come back while the cross pairs stay",
        {"train": {"colour_rows": 0.5, "colour_rows_images": True}},
    ),
    "colour_rows_text": (
        "colour_rows whose term moves the text tower only, the images detached: whether "
        "colours come back without the drawings' cost",
        {"train": {"colour_rows": 0.5}},
    ),
    "shape_pairs": (
        "every caption row shows its caption cut to its shapes (no colour, no material: "
        "workbench.colours.shape_caption) in the caption's pairs with maps: whether captions "
        "keep their colours, as people's words need, while the pairs with maps hold",
        {"train": {"shape_pairs": 1.0}},
    ),
    "shape_pairs_half": (
        "shape_pairs on half the caption rows, the other half's pairs with maps on the caption",
        {"train": {"shape_pairs": 0.5}},
    ),
    "colour_half_twins": (
        "object_rows_half_twins with colour rows on half the scenes, text tower only: "
        "v11e's recipe, short",
        {"train": {**HALF_TWINS, "colour_rows": 0.5}},
    ),
    "colour_half_twins_shapes": (
        "colour_half_twins with shape_pairs on every caption row: whether v11e's recipe keeps "
        "careful captions and the caption pairs with maps once those pairs read shapes only",
        {"train": {**HALF_TWINS, "colour_rows": 0.5, "shape_pairs": 1.0}},
    ),
    "v9_recipe": (
        "v9's recipe, short: the shipped recipe without the cell head and the cross pairs, "
        "what v10 added; whether short arms rank people's careful and rough captions as the "
        "full runs did (v9 above v10), so they can screen levers for giving them back",
        {"train": {"cell_weight": 0.0, "cross_weight": 0.0}},
    ),
    "both": (
        "object_positives and the random person together",
        {
            "data": {"styles": ("default", "tidy", "rough", "loose", RANDOM)},
            "train": {"object_positives": True},
        },
    ),
}


def _another_seed(arm: str) -> tuple[str, dict[str, dict[str, object]]]:
    """Arm ``arm`` with training seed 1: how far two runs of one lever differ by chance."""
    overrides = ARMS[arm][1]
    seeded = {**overrides, "train": {**overrides.get("train", {}), "seed": 1}}
    return f"{arm} with another training seed (is its change more than chance?)", seeded


#: arms run twice, to measure chance
SEEDED = ("base", "max_pool", "attn_pool", "attributes", "cells", "cells_cross", "content_box",
          "cross_pairs", "pixels_96", "base_900", "wide_max", "object_heavy",
          "object_rows_half", "twin_rows_1140", "object_rows_half_twins",
          "object_rows_half_twins_partial")  # fmt: skip
ARMS |= {f"{arm}_seed1": _another_seed(arm) for arm in SEEDED}


def _warm(arm: str, what: str, **train: object) -> tuple[str, dict[str, dict[str, object]]]:
    """Arm ``arm`` (with ``train`` changed) started from the shipped model (:data:`WARM`)."""
    overrides = ARMS[arm][1]
    return what, {**overrides, "train": {**overrides.get("train", {}), **WARM, **train}}


# warm arms: each starts from the shipped model (v10, the end of a full run) and trains its
# recipe on at a quarter of the peak learning rate, compared with warm_base; short arms from
# nothing rank people's careful and rough captions opposite to the full runs
# (lab/results/people_words_v9_arm.md), and an arm that starts where a full run ends may not
ARMS |= {
    "warm_base": _warm(
        "base",
        "the shipped recipe continued from the shipped model (v10) at a quarter of its peak "
        "learning rate",
    ),
    "warm_v9_recipe": _warm(
        "v9_recipe",
        "v9's recipe continued from the shipped model: at full length v9 and v10 read careful "
        "and rough captions alike",
    ),
    "warm_colour_half_twins": _warm(
        "colour_half_twins",
        "v11e's recipe continued from the shipped model: at full length v11e reads careful and "
        "rough captions less well than v9 and v10",
    ),
    "warm_colour_half_twins_shapes": _warm(
        "colour_half_twins_shapes",
        "v11f's recipe (v11e's with shape pairs) continued from the shipped model",
    ),
    "warm_colour_half_twins_whole": _warm(
        "colour_half_twins",
        "warm_colour_half_twins with every caption row a scene's caption (p_object_caption 0): "
        "one-object captions only beside it, as object rows, not in its place",
        p_object_caption=0.0,
    ),
    "warm_colour_half_twins_shapes_whole": _warm(
        "colour_half_twins_shapes",
        "warm_colour_half_twins_shapes with every caption row a scene's caption "
        "(p_object_caption 0)",
        p_object_caption=0.0,
    ),
    "warm_colour_half_twins_one_way": _warm(
        "colour_half_twins",
        "warm_colour_half_twins with its object rows one way (object_rows_both_ways off): each "
        "picks among the images, and no image is asked to pick its object rows beside its caption",
        object_rows_both_ways=False,
    ),
    "warm_colour_half_twins_one_way_full": _warm(
        "colour_half_twins",
        "warm_colour_half_twins_one_way with an object row for every scene (object_rows 1.0, "
        "v11b's dose): whether one way keeps careful captions at the dose that reached binding",
        object_rows_both_ways=False,
        object_rows=1.0,
    ),
}

#: warm arms run on a second training seed: whether object rows one way keep careful captions
WARM_SEEDED = ("warm_base", "warm_colour_half_twins_one_way", "warm_colour_half_twins_one_way_full")
ARMS |= {f"{arm}_seed1": _another_seed(arm) for arm in WARM_SEEDED}

COLUMNS = (
    "caption R@1", "object attr_P@10", "sketch (default) R@10", "semseg (default) R@10",
    "caption (default) R@1", "sketch (scrawl, held out) R@10", "semseg (scrawl, held out) R@10",
    "sketch R@1",
)  # fmt: skip


def arm_recipe(base: Recipe, name: str, scenes: int, steps: int, chunk: float) -> Recipe:
    """The default recipe, short, with arm ``name``'s lever on."""
    _, overrides = ARMS[name]
    data = replace(base.data, **{"scenes": scenes, **overrides.get("data", {})})
    train = replace(
        base.train, **{"steps": steps, "chunk_minutes": chunk, **overrides.get("train", {})}
    )
    return replace(
        base, name=f"lever-{name}", data=data, train=train, **overrides.get("recipe", {})
    )


def render_key(part: str, recipe: Recipe) -> str:
    """What a rendered set depends on: its section, the size and how drawings are read (the
    validation gallery too, since a model reading a content box is validated so); a recipe
    without input settings keys as recipes before them did, so their renders are reused."""
    settings = recipe.data.input_settings
    section = asdict(recipe.data if part == "cache" else recipe.val)
    section.pop("input_settings", None)
    key = [part, section, recipe.data.size, *([settings] if settings else [])]
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def share_renders(root: Path, out: Path, recipe: Recipe) -> None:
    """Point the arm's ``cache`` and ``val`` at one rendered set per distinct data recipe."""
    for part in ("cache", "val"):
        shared = root / "renders" / render_key(part, recipe)
        shared.mkdir(parents=True, exist_ok=True)
        link = out / part
        if not link.exists():
            out.mkdir(parents=True, exist_ok=True)
            link.symlink_to(shared.resolve(), target_is_directory=True)


def run_arm(root: Path, name: str, recipe: Recipe) -> dict[str, object]:
    """Train and evaluate one arm (resuming it; a finished arm is only read)."""
    out = root / name
    done = out / "levers.json"
    if done.is_file():
        return json.loads(done.read_text())
    share_renders(root, out, recipe)
    began = time.monotonic()
    records = run_pipeline(Run(recipe, out, f"lab/levers.py arm {name}"))
    stages = {
        s: json.loads((out / "stages" / f"{s}.json").read_text())
        for s in ("train",)
        if (out / "stages" / f"{s}.json").is_file()
    }
    result = {
        "arm": name,
        "what": ARMS[name][0],
        "eval": records["eval"],
        "history": json.loads((out / "history.json").read_text()),
        "train_seconds": stages.get("train", {}).get("seconds"),
        "call_seconds": round(time.monotonic() - began, 1),
        "load": os.getloadavg()[0],
    }
    done.write_text(json.dumps(result, indent=1) + "\n")
    return result


#: any-to-any cells the report shows per arm, (gallery, query): the pairs without the image that
#: v9 reads least well, a caption's pairs with a depth map and a sketch, and one through rgb
PAIRS = (
    ("sketch", "depth"), ("sketch", "normal"), ("sketch", "edges"), ("semseg", "sketch"),
    ("depth", "sketch"), ("depth", "caption"), ("caption", "depth"), ("sketch", "caption"),
    ("caption", "sketch"), ("rgb", "caption"),
)  # fmt: skip


def arm_pairs(root: Path, name: str, n: int, seed: int, scenes: list[dict]) -> dict[str, object]:
    """``lab/any_to_any.py``'s table of one arm's bundle on ``n`` scenes of ``seed`` (kept in
    the arm's folder, so a second call only reads it)."""
    path = root / name / f"any_to_any-{n}-{seed}.json"
    if path.is_file():
        return json.loads(path.read_text())
    from anyseek.model.service import load_search_model
    from lab.any_to_any import measure

    table = measure(load_search_model(str(root / name / "bundle"), device="cpu"), scenes)
    path.write_text(json.dumps(table, indent=1) + "\n")
    return table


def pairs_report(tables: dict[str, dict], n: int, seed: int) -> list[str]:
    """The any-to-any section: chosen R@1 cells per arm, and the lowest R@1 of the generator's
    pairs of two pixel modalities (the issue's bar is 0.95)."""
    from lab.any_to_any import QUERIES

    pixel = tuple(q for q in QUERIES if q not in ("rgb", "caption"))  # the image and text aside
    heads = [f"{g} <- {q}" for g, q in PAIRS]
    lines = [
        "## Pairs without the image (R@1)",
        "",
        f"`lab/any_to_any.py`'s measurement on each arm's bundle ({n:,} scenes, seed {seed}): "
        "a gallery of one modality asked by another, R@1 of the scene's own item; the lowest "
        "is over every pair of two pixel modalities (depth, segmentation, sketch, normals, "
        "edges) whose gallery the bench builds.",
        "",
        "| arm | lowest pixel pair | " + " | ".join(heads) + " |",
        "|---|---|" + "---|" * len(heads),
    ]
    for arm, table in tables.items():
        lowest = min(
            (r[0], f"{g} <- {q}")
            for g, row in table.items()
            for q, r in row.items()
            if g in pixel and q in pixel
        )
        cells = " | ".join(f"{table[g][q][0]:.3f}" for g, q in PAIRS)
        lines.append(f"| {arm} | {lowest[0]:.3f} ({lowest[1]}) | {cells} |")
    return [*lines, ""]


def _row(values: dict[str, float], keys: tuple[str, ...]) -> str:
    return " | ".join(f"{values[k]:.3f}" if k in values else "" for k in keys)


def baseline_of(arm: str) -> str:
    """The arm a lever is compared with: ``base`` trained with the same seed (``base_seed1``
    itself with ``base``: the spread of chance), and a warm arm ``warm_base`` the same way."""
    base = "warm_base" if arm.startswith("warm_") else "base"
    return f"{base}_seed1" if arm.endswith("_seed1") and arm != f"{base}_seed1" else base


def report(
    results: list[dict[str, object]],
    command: str,
    recipe: Recipe,
    shipped: Recipe,
    pairs: list[str] | None = None,
) -> str:
    """The markdown: final numbers per arm (and the change against base), then the curves."""
    lines = [
        "# Levers for the next recipe of the built-in model",
        "",
        f"Command: `{command}`",
        "",
        f"Every arm: the `default` recipe with {recipe.data.scenes:,} training scenes and "
        f"{recipe.train.steps:,} steps of {recipe.train.batch} (the shipped run: "
        f"{shipped.data.scenes:,} and {shipped.train.steps:,}), validated on the same held-out "
        "gallery (1,000 scenes, seed "
        f"{recipe.val.seed}) after every {recipe.train.chunk_minutes:g}-minute chunk; one lever "
        "each, on this 2-core CPU with nothing else running. R@1 of the generator's queries, "
        "R@10 of people's drawings (`default`: a person trained on, scenes never trained on; "
        "`scrawl`: a person held out of training).",
        "",
        "## Final evaluation",
        "",
        "| arm | lever | training min | " + " | ".join(COLUMNS) + " |",
        "|---|---|---|" + "---|" * len(COLUMNS),
    ]
    evals = {r["arm"]: r["eval"] for r in results}
    for r in results:
        minutes = r["history"][-1]["minutes"] if r["history"] else 0.0
        lines.append(f"| {r['arm']} | {r['what']} | {minutes:.1f} | {_row(r['eval'], COLUMNS)} |")
        reference = baseline_of(r["arm"])
        base = evals.get(reference)
        if base is not None and r["arm"] != reference:
            delta = {k: r["eval"][k] - base[k] for k in COLUMNS if k in r["eval"] and k in base}
            cells = " | ".join(f"{delta[k]:+.3f}" if k in delta else "" for k in COLUMNS)
            lines.append(f"| | change against {reference} | | {cells} |")
    lines += ["", *(pairs or []), "## Learning curves (validation after each chunk)", ""]
    for r in results:
        lines += [
            f"### {r['arm']}",
            "",
            "| minutes | step | " + " | ".join(COLUMNS) + " |",
            "|---|---|" + "---|" * len(COLUMNS),
        ]
        for h in r["history"]:
            lines.append(f"| {h['minutes']:.1f} | {h['step']} | {_row(h, COLUMNS)} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    """Run the arms not yet finished, then write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="folder of the arms' runs")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"from {', '.join(ARMS)}")
    parser.add_argument("--scenes", type=int, default=6000)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--chunk-minutes", type=float, default=4.0)
    parser.add_argument("--out", type=Path, help="the markdown report")
    parser.add_argument(
        "--pairs-n", type=int, default=0, help="also measure any-to-any pairs on N scenes"
    )
    parser.add_argument("--pairs-seed", type=int, default=20261202)
    args = parser.parse_args()
    unknown = [a for a in args.arms.split(",") if a not in ARMS]
    if unknown:
        parser.error(f"unknown arm(s) {unknown}; choose from {list(ARMS)}")
    base = load_recipe("default")
    shape = (args.scenes, args.steps, args.chunk_minutes)
    recipes = {name: arm_recipe(base, name, *shape) for name in args.arms.split(",")}
    results = [run_arm(args.root, name, recipe) for name, recipe in recipes.items()]
    pairs = None
    if args.pairs_n:
        from lab.any_to_any import scene_parts

        scenes = {  # each arm's pairs read scenes rendered at the size it was trained on
            size: scene_parts(args.pairs_n, args.pairs_seed, size)[0]
            for size in {r.data.size for r in recipes.values()}
        }
        tables = {
            arm: arm_pairs(args.root, arm, args.pairs_n, args.pairs_seed, scenes[recipe.data.size])
            for arm, recipe in recipes.items()
        }
        pairs = pairs_report(tables, args.pairs_n, args.pairs_seed)
    command = "PYTHONPATH=. .venv/bin/python lab/levers.py " + " ".join(sys.argv[1:])
    text = report(results, command, arm_recipe(base, "base", *shape), base, pairs)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
