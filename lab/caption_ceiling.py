"""How far a caption can pick out its scene at all: the R@1 a perfect reader of its words reaches.

    PYTHONPATH=. .venv/bin/python lab/caption_ceiling.py --n 1000 --seed 20261126 \
        --out lab/results/caption_ceiling.md

For every gallery scene and caption source (the generator's object list, each person's own
words), the caption's stated objects (``anyseek.workbench.metrics.caption_facts``, after people's
synonyms become the scene's words) are matched against every gallery scene. A scene *fits* when
it has every stated object; it fits *in order* when, in addition, distinct objects of it match the
stated ones from left to right (people and the generator name objects in image order). A reader
that knows exactly what the words say, and nothing else, ranks every fitting scene alike, so its
expected R@1 is the mean of ``1 / fitting scenes``: the ceiling of any model's caption R@1 on
that gallery. Nothing here uses a model: it measures the queries, not the reader.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from itertools import pairwise, permutations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.model.vocabulary.synonyms import canonical_caption
from anyseek.workbench.metrics import caption_facts, satisfies

Fact = dict[str, str]
Obj = dict[str, Any]


def _matches(obj: Obj, fact: Fact) -> bool:
    """Whether one visible object has every attribute the phrase states."""
    return all(obj.get(k) == v for k, v in fact.items())


def fits(objects: list[Obj], facts: list[Fact], ordered: bool) -> bool:
    """Whether distinct objects (left to right, if ``ordered``) match every stated one."""
    if not facts:
        return True
    if len(facts) > len(objects):
        return False
    for chosen in permutations(range(len(objects)), len(facts)):
        if all(_matches(objects[j], f) for j, f in zip(chosen, facts, strict=True)):
            cols = [objects[j]["col"] for j in chosen]
            if not ordered or all(a <= b for a, b in pairwise(cols)):
                return True
    return False


def fits_exactly(objects: list[Obj], facts: list[Fact]) -> bool:
    """Whether the objects, left to right, are the stated ones one for one: as many, each in
    its place matching its phrase (a caption that names every visible object, as the
    generator's object list does, is read this way by a reader that sees them all)."""
    if len(objects) != len(facts):
        return False
    ordered = sorted(objects, key=lambda o: o["col"])
    return all(_matches(o, f) for o, f in zip(ordered, facts, strict=True))


@dataclass(frozen=True)
class Ceiling:
    """One caption source on one gallery: expected R@1 of a perfect reader, two ways."""

    source: str
    unordered: float  # objects named, ignoring where they stand
    ordered: float  # and their left-to-right order
    unique: float  # share of captions that only their own scene fits in order
    parsed: float  # share of captions with at least one stated object


def ceiling(source: str, captions: list[str], scenes: list[list[Obj]]) -> Ceiling:
    """The ceilings of ``captions[i]`` (scene i's) over the whole gallery."""
    inverse = {False: 0.0, True: 0.0}
    unique = parsed = 0
    for i, caption in enumerate(captions):
        facts = caption_facts(canonical_caption(caption))
        parsed += bool(facts)
        candidates = [objs for objs in scenes if satisfies({"objects": objs}, facts)]  # quick
        for ordered in (False, True):
            count = sum(fits(objs, facts, ordered) for objs in candidates)
            if not fits(scenes[i], facts, ordered):
                count += 1  # a caption its own scene does not fit (should not happen) counts it
            inverse[ordered] += 1.0 / count
            unique += ordered and count == 1
    n = len(captions)
    return Ceiling(source, inverse[False] / n, inverse[True] / n, unique / n, parsed / n)


def gallery(n: int, seed: int, styles: tuple[str, ...]) -> tuple[dict[str, list[str]], list]:
    """Captions per source and every scene's visible objects (with their image column)."""
    from anyseek.scenes.human import draw_human_queries
    from anyseek.scenes.sample import generate_scene
    from anyseek.scenes.synth import scene_seed
    from anyseek.workbench.cache import draw_seed
    from anyseek.workbench.metrics import first_object
    from anyseek.workbench.styles import style

    samples = [generate_scene(scene_seed(seed, i), 64) for i in range(n)]
    scenes = [
        [
            {"shape": v.obj.shape, "color": v.obj.color, "size": v.obj.size,
             "material": v.obj.material, "col": v.col}
            for v in s.objects
            if v.mentionable
        ]
        for s in samples
    ]  # fmt: skip
    captions = {"generator": [s.captions[0] for s in samples]}
    captions["one object"] = [first_object(s.captions[0]) for s in samples]
    for name in styles:
        captions[name] = [
            draw_human_queries(
                (d := draw_seed(s.seed, name)), s.objects, s.instance, s.semseg, style(name, d)
            ).caption
            for s in samples
        ]
    return captions, scenes


def main() -> None:
    """Measure every caption source and write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--styles", default="default,scrawl")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    began = time.monotonic()
    captions, scenes = gallery(args.n, args.seed, tuple(args.styles.split(",")))
    rows = [ceiling(source, texts, scenes) for source, texts in captions.items()]
    lines = [
        "| captions | stated objects parsed | R@1 ceiling, objects | R@1 ceiling, objects "
        "in order | only their own scene fits, in order |",
        "|---|---|---|---|---|",
        *(
            f"| {r.source} | {r.parsed:.3f} | {r.unordered:.3f} | {r.ordered:.3f} | "
            f"{r.unique:.3f} |"
            for r in rows
        ),
    ]
    command = "PYTHONPATH=. .venv/bin/python lab/caption_ceiling.py " + " ".join(sys.argv[1:])
    text = "\n".join(lines)
    print(text)
    print(f"\n{args.n} scenes, seed {args.seed}; {time.monotonic() - began:.0f} s")
    if args.out:
        args.out.write_text(f"Command: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
