"""People's words against built-in models, over enough scenes that a 0.02 change is outside the
noise: careful wording, rough wording, and words people use that the generator never writes.

    PYTHONPATH=. .venv/bin/python lab/people_words.py \
        --seeds 20261212,20261213,20261214,20261215,20261216 --n 1000 \
        --models v9=runs/v9 v10=model/builtin/weights \
        --json lab/results/people_words.json --out lab/results/people_words.md

For each seed a gallery of ``--n`` held-out scenes is rendered and each scene is asked for by a
caption in each *wording* (:data:`WORDINGS`), through each model's own search interface (the
caption read the way search reads it, images embedded the way the indexer does). A row's R@1 and
R@10 are pooled over every seed's queries; their 95 % intervals, and the interval of each
model's change against the first, are bootstrapped over scenes (paired: the same queries for both
models), so the file says which changes are larger than chance. The human evaluation's own rows
(``lab/results/human.md``) ask 1,000 scenes once, where an R@10 near 0.84 has a 95 % interval of
about +-0.023 on its own.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.model.service import SearchModel, load_search_model
from anyseek.scenes.captions import NOUNS
from anyseek.scenes.human import HumanStyle, draw_human_queries
from anyseek.scenes.sample import SceneSample, generate_scene
from anyseek.scenes.scene import COLORS
from anyseek.scenes.synth import scene_seed
from anyseek.scenes.tensors import from_samples
from anyseek.workbench.colours import NOT_COLOUR, SHAPE_WORDS
from anyseek.workbench.evaluate import image_vectors, input_size, query_vectors

#: each shape -> everyday words for it (every generator noun of the shape gets them)
EVERYDAY_SHAPES: dict[str, tuple[str, ...]] = {
    "cube": ("cubic thing", "chunk", "lump"),
    "sphere": ("round thing", "bubble", "pearl"),
    "cylinder": ("can", "tin", "canister", "post"),
    "cone": ("traffic cone", "party hat", "spire"),
    "torus": ("lifebuoy", "tyre", "bangle"),
}
#: the generator's word -> everyday words for it that the generator never writes and the
#: synonym table search reads (``anyseek.model.vocabulary.synonyms``) does not know
EVERYDAY: dict[str, tuple[str, ...]] = {
    **{noun: said for shape, said in EVERYDAY_SHAPES.items() for noun in NOUNS[shape]},
    "red": ("burgundy", "tomato red", "wine red"),
    "orange": ("pumpkin", "carrot orange", "rust"),
    "yellow": ("canary yellow", "banana yellow", "butter yellow"),
    "green": ("mint green", "jade", "forest green", "grass green"),
    "cyan": ("seafoam", "ice blue", "pool blue"),
    "blue": ("sapphire", "denim blue", "ocean blue"),
    "purple": ("grape", "eggplant", "amethyst"),
    "pink": ("bubblegum", "flamingo pink", "blush"),
    "brown": ("caramel", "walnut", "cocoa"),
    "gray": ("slate gray", "ash", "stone gray"),
    "white": ("snow white", "pearl white", "off-white"),
    "black": ("jet black", "onyx", "coal black"),
    "small": ("teeny", "itty-bitty", "pocket-sized"),
    "large": ("hefty", "jumbo", "oversized"),
    "metal": ("polished", "gleaming", "mirror-like"),
    "matte": ("flat", "soft-looking", "plasticky"),
}  # fmt: skip

#: how a person asks a search box, around the objects they name
FRAMES = ("find me {}", "a photo with {}", "looking for {}", "{} please", "show {}", "{}")


@dataclass(frozen=True)
class Wording:
    """One way of asking: a person's caption knobs, and an optional rewrite of its words."""

    style: HumanStyle
    rewrite: Callable[[str, random.Random], str] | None = None
    about: str = ""


def everyday(caption: str, rng: random.Random) -> str:
    """``caption`` with every generator word said in :data:`EVERYDAY`'s words, in a search
    box's frame."""
    words = re.split(r"(\W+)", caption)
    said = [rng.choice(EVERYDAY[w.lower()]) if w.lower() in EVERYDAY else w for w in words]
    return rng.choice(FRAMES).format("".join(said))


def keeping(kept: frozenset[str]) -> Callable[[str, random.Random], str]:
    """A rewrite that leaves out every colour, shape, size and material word not in ``kept``."""
    dropped = (NOT_COLOUR | frozenset(COLORS)) - kept

    def rewrite(caption: str, rng: random.Random) -> str:
        words = re.split(r"(\W+)", caption)
        return "".join("" if w.lower() in dropped else w for w in words)

    return rewrite


CAREFUL = HumanStyle(p_synonym=0.0, p_some_objects=0.0, p_typo=0.0)
WORDINGS: dict[str, Wording] = {
    "careful": Wording(CAREFUL, about="every object named in the generator's words, no typos"),
    "rough": Wording(
        replace(CAREFUL, p_synonym=0.6, p_some_objects=0.6, p_typo=0.12),
        about="some objects named, people's synonyms, a word in eight misspelt",
    ),
    "everyday": Wording(
        CAREFUL,
        everyday,
        about="every object named, each word in everyday words the generator never writes, "
        "in a search box's frame",
    ),
    # what a caption's parts alone find (``--wordings``): what everyday words leave readable
    # is mostly colours (``anyseek.workbench.colours``)
    "colours": Wording(
        CAREFUL,
        keeping(frozenset(COLORS)),
        about="careful, with every shape, size and material word left out",
    ),
    "shapes": Wording(
        CAREFUL,
        keeping(SHAPE_WORDS),
        about="careful, with every colour, size and material word left out",
    ),
}
#: the wordings a run asks unless ``--wordings`` names others
DEFAULT_WORDINGS = ("careful", "rough", "everyday")


@dataclass(frozen=True)
class Hits:
    """One model's hits of one wording: per query, was its own scene first, in the first ten."""

    at1: np.ndarray  # [Q] bool
    at10: np.ndarray  # [Q] bool


def _scene(args: tuple[int, int, int]) -> SceneSample:
    seed, index, size = args
    return generate_scene(scene_seed(seed, index), size)


def render(seed: int, n: int, size: int, workers: int) -> list[SceneSample]:
    """The ``n`` scenes of gallery ``seed`` (rendered on ``workers`` processes)."""
    jobs = [(seed, i, size) for i in range(n)]
    with get_context("fork").Pool(workers) as pool:
        return pool.map(_scene, jobs, chunksize=50)


def captions_of(samples: list[SceneSample], wording: Wording, seed: int) -> list[str]:
    """Each scene's caption in ``wording`` (reproducible from the gallery's seed)."""
    rng = random.Random(seed)
    out = []
    for s in samples:
        said = draw_human_queries(s.seed + 7, s.objects, s.instance, s.semseg, wording.style)
        out.append(wording.rewrite(said.caption, rng) if wording.rewrite else said.caption)
    return out


def hits(model: SearchModel, images: dict[str, torch.Tensor], captions: list[str]) -> Hits:
    """Each caption's rank of its own scene among the gallery's ``images`` (per space)."""
    asked = {"caption": captions.__getitem__}
    vectors, _ = query_vectors(model, ("caption",), asked, len(captions), 256)
    space = next(iter(vectors))
    sims = vectors[space] @ images[space].t()
    rank = (sims > sims.diagonal()[:, None]).sum(1)
    return Hits((rank < 1).numpy(), (rank < 10).numpy())


def interval(values: np.ndarray, draws: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % bootstrap interval of per-query values (``draws``: resampled indices)."""
    means = values[draws].mean(1)
    return float(values.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def report(
    table: dict[str, dict[str, Hits]], names: list[str], seeds: list[int], n: int, command: str
) -> tuple[str, dict]:
    """The markdown and the JSON of every row: each model's R@1 / R@10 and each change."""
    rng = np.random.default_rng(0)
    queries = len(seeds) * n
    draws = rng.integers(0, queries, (2000, queries))
    data: dict = {"seeds": seeds, "n": n, "rows": {}}
    lines = [
        "# People's words against the built-in models, pooled over several galleries",
        "",
        f"Command: `{command}`",
        "",
        f"{len(seeds)} galleries of {n:,} held-out scenes (seeds {', '.join(map(str, seeds))}): "
        f"{queries:,} captions per wording, each asking for its own scene among its gallery's "
        f"{n:,} images. Intervals: 95 %, bootstrapped over the queries (2,000 resamples); a "
        "change's interval is paired (the same queries for both models).",
        "",
        "| wording | what it is |",
        "|---|---|",
        *(f"| {w} | {WORDINGS[w].about} |" for w in table),
        "",
        "| wording | metric | " + " | ".join(names) + " | "
        + " | ".join(f"{m} - {names[0]}" for m in names[1:]) + " |",
        "|---|---|" + "---|" * (2 * len(names) - 1),
    ]  # fmt: skip
    for wording, by_model in table.items():
        for metric in ("R@1", "R@10"):
            cells, changes = [], []
            row = data["rows"].setdefault(wording, {}).setdefault(metric, {})
            base = getattr(by_model[names[0]], "at1" if metric == "R@1" else "at10").astype(float)
            for name in names:
                v = getattr(by_model[name], "at1" if metric == "R@1" else "at10").astype(float)
                mean, low, high = interval(v, draws)
                row[name] = {"mean": mean, "low": low, "high": high}
                cells.append(f"{mean:.3f} ({low:.3f}-{high:.3f})")
                if name != names[0]:
                    d, dl, dh = interval(v - base, draws)
                    row[f"{name} - {names[0]}"] = {"mean": d, "low": dl, "high": dh}
                    sure = " *" if dl > 0 or dh < 0 else ""
                    changes.append(f"{d:+.3f} ({dl:+.3f} to {dh:+.3f}){sure}")
            lines.append(f"| {wording} | {metric} | " + " | ".join(cells + changes) + " |")
    widest = max(
        (c["high"] - c["low"]) / 2
        for w in data["rows"].values()
        for m in w.values()
        for k, c in m.items()
        if " - " in k
    ) if len(names) > 1 else float("nan")  # fmt: skip
    data["widest_change_half_interval"] = widest
    seen = (
        "so a change of 0.02 is outside the noise of every row."
        if widest < 0.02
        else "so a change of 0.02 is inside the noise of some row: ask more galleries."
    )
    lines += [
        "",
        "`*`: the change's interval leaves out zero. The widest half-interval of a change here "
        f"is {widest:.3f}, {seen}",
    ]
    return "\n".join(lines), data


def main() -> None:
    """Render each gallery once, ask it in every wording through every model, write the file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", required=True, help="comma-separated gallery seeds")
    parser.add_argument("--n", type=int, default=1000, help="scenes per gallery")
    parser.add_argument("--models", nargs="+", required=True, metavar="NAME=SOURCE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--wordings",
        default=",".join(DEFAULT_WORDINGS),
        help=f"comma-separated, of {', '.join(WORDINGS)}",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    pairs = [m.split("=", 1) for m in args.models]
    if any(len(p) != 2 for p in pairs):
        parser.error("--models takes NAME=SOURCE pairs, e.g. v10=model/builtin/weights")
    seeds = [int(s) for s in args.seeds.split(",")]
    asked = args.wordings.split(",")
    if unknown := [w for w in asked if w not in WORDINGS]:
        parser.error(f"unknown wording {unknown[0]!r}; known: {', '.join(WORDINGS)}")
    torch.set_num_threads(args.workers)
    models = {name: load_search_model(source, device="cpu") for name, source in pairs}
    sizes = {input_size(m) for m in models.values()}
    if len(sizes) != 1:
        parser.error(f"the models read images at different sizes {sorted(sizes)}")
    size = sizes.pop()
    began = time.monotonic()
    per_seed: dict[str, dict[str, list[Hits]]] = {}
    for seed in seeds:
        samples = render(seed, args.n, size, args.workers)
        gallery = from_samples(samples)
        images = {name: image_vectors(model, gallery) for name, model in models.items()}
        for wording_name in asked:
            wording = WORDINGS[wording_name]
            captions = captions_of(samples, wording, seed)
            for name, model in models.items():
                found = hits(model, images[name], captions)
                per_seed.setdefault(wording_name, {}).setdefault(name, []).append(found)
        print(f"seed {seed}: {time.monotonic() - began:.0f} s", flush=True)
    table = {
        w: {
            m: Hits(np.concatenate([h.at1 for h in hs]), np.concatenate([h.at10 for h in hs]))
            for m, hs in by_model.items()
        }
        for w, by_model in per_seed.items()
    }
    command = "PYTHONPATH=. .venv/bin/python lab/people_words.py " + shlex.join(sys.argv[1:])
    text, data = report(table, [name for name, _ in pairs], seeds, args.n, command)
    data["wall_s"] = round(time.monotonic() - began, 1)
    if args.json:
        args.json.write_text(json.dumps(data, indent=1) + "\n")
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
