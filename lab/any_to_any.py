"""Any to any: galleries of every modality, each asked by every other kind (issue 51).

    PYTHONPATH=. .venv/bin/python lab/any_to_any.py --n 1000 --seed SEED \
        --out lab/results/any_to_any.md

Generated scenes give every modality of one scene at once, so each scene's item in a gallery of
depth maps (of segmentations, sketches, captions, photos, or records of a photo and its depth
map) is the right answer to that scene's query of any other kind. Gallery items are read and
embedded by the indexer's own code (``anyseek.indexer.decode.decode_item``,
``anyseek.model.service.embed_items``:
what ``anyseek index --modality`` / ``--manifest`` does), queries by the model's query transforms
(what a search does), from PNG bytes as the scene world writes them. Cells are R@1 / R@10 of
the scene's own item; a dash is a gallery asked by its own kind. ``--json`` writes the table
for the docs test, which holds the numbers docs quote to it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.indexer.decode import DecodeLimits, decode_item
from anyseek.indexer.fetch import Fetched, FetchedPart
from anyseek.indexer.sources import SourceRef
from anyseek.model.service import (
    QueryRequest,
    SearchModel,
    embed_items,
    item_modalities,
    load_search_model,
)
from anyseek.scenes.modalities import MODALITIES
from anyseek.scenes.png import encode_png
from anyseek.scenes.sample import generate_scene
from anyseek.scenes.synth import scene_seed
from anyseek.settings import load_settings

sys.path.append(str(Path(__file__).resolve().parent))  # caption_ceiling, after the packages
from caption_ceiling import fits, fits_exactly

from anyseek.model.vocabulary.synonyms import canonical_caption
from anyseek.workbench.metrics import caption_facts

SCENE_FILES = {"rgb": "rgb", "depth": "depth", "semseg": "semseg", "sketch": "sketch",
               "normal": "normals", "edges": "edges"}  # fmt: skip
"""Item modality -> the scene world's PNG modality that holds it."""
GALLERIES: dict[str, tuple[str, ...]] = {
    "rgb": ("rgb",),
    "depth": ("depth",),
    "semseg": ("semseg",),
    "sketch": ("sketch",),
    "caption": ("caption",),
    "rgb+depth": ("rgb", "depth"),
}
"""Each gallery by the parts its items hold."""
QUERIES = ("rgb", "depth", "semseg", "sketch", "normal", "edges", "caption")
"""The query kinds every gallery is asked by (the photo is the query modality ``image``)."""
BATCH = 64


def scene_parts(
    n: int, seed: int, size: int = 64
) -> tuple[list[dict[str, bytes | str]], list[list[dict]]]:
    """Every scene's parts as files hold them (PNG bytes per pixel modality, rendered ``size``
    pixels square; the caption text) and its visible objects' facts (shape, colour, size,
    material, image column)."""
    encoders = {m.name: m.encode for m in MODALITIES}
    scenes, objects = [], []
    for index in range(n):
        sample = generate_scene(scene_seed(seed, index), size)
        parts: dict[str, bytes | str] = {
            name: encode_png(encoders[source](sample)) for name, source in SCENE_FILES.items()
        }
        parts["caption"] = sample.captions[0]
        scenes.append(parts)
        objects.append(
            [
                {
                    "shape": v.obj.shape,
                    "color": v.obj.color,
                    "size": v.obj.size,
                    "material": v.obj.material,
                    "col": v.col,
                }
                for v in sample.objects
                if v.mentionable
            ]
        )
    return scenes, objects


#: what a depth map, a segmentation or a sketch shows of an object (no colour, no material)
SHOWN = ("shape", "size")
Fit = Callable[[list[dict], list[dict]], bool]


def reader_ceiling(captions: Sequence[str], objects: Sequence[list[dict]], fit: Fit) -> float:
    """The R@1 of a perfect reader of each caption that sees only :data:`SHOWN` of each object
    and takes a scene for the caption's when ``fit(scene's objects, stated facts)``: the mean of
    1 / the scenes that fit (a caption its own scene does not fit counts its scene too)."""
    total = 0.0
    for i, caption in enumerate(captions):
        facts = [
            {k: v for k, v in fact.items() if k in SHOWN}
            for fact in caption_facts(canonical_caption(caption))
        ]
        count = sum(fit(objs, facts) for objs in objects)
        total += 1.0 / (count if fit(objects[i], facts) else count + 1)
    return total / len(captions)


def colour_blind_ceiling(captions: Sequence[str], objects: Sequence[list[dict]]) -> float:
    """A reader blind to colour and material that matches the named objects' shapes and sizes
    in order (``lab/caption_ceiling.py``), ignoring that the caption names every visible one."""
    return reader_ceiling(captions, objects, lambda objs, facts: fits(objs, facts, True))


def map_reader_ceiling(captions: Sequence[str], objects: Sequence[list[dict]]) -> float:
    """The R@1 a perfect reader of each caption reaches against maps: it sees everything a
    depth map, a segmentation or a sketch shows (every object's shape and size, how many there
    are and where they stand) and no colour or material. The generator's caption names every
    visible object left to right, so a scene fits when its objects are the caption's, one for
    one and in order (an upper bound: it grants every map sizes and every object's place)."""
    return reader_ceiling(captions, objects, fits_exactly)


#: the pairs of a caption and a map: (gallery, query) both ways
CAPTION_MAP_PAIRS = tuple(
    pair
    for kind in ("depth", "semseg", "sketch", "normal", "edges")
    for pair in ((kind, "caption"), ("caption", kind))
)


def gallery_vectors(
    model: SearchModel, scenes: Sequence[dict], kinds: tuple[str, ...], limits: DecodeLimits
) -> np.ndarray:
    """One row per scene: its item of ``kinds`` read and embedded as the indexer does."""
    decoded = []
    for index, parts in enumerate(scenes):
        own = tuple(
            FetchedPart(kind, parts[kind], hashlib.sha256(str(index).encode()).hexdigest())
            for kind in kinds
        )
        ref = SourceRef(f"scene{index}", f"scene{index}", parts=tuple((k, k) for k in kinds))
        if kinds == ("rgb",):  # an image file (one part), as a folder of photos is indexed
            ref = SourceRef(f"scene{index}.png", f"scene{index}.png")
        data = parts[kinds[0]]
        fetched = Fetched(ref, data if isinstance(data, bytes) else data.encode(), "", 0, None, own)
        decoded.append(decode_item(fetched, limits, model))
    return np.stack(embed_items(model, [d.inputs for d in decoded], BATCH))


def query_vectors(model: SearchModel, scenes: Sequence[dict], kind: str) -> np.ndarray:
    """One row per scene: its query of ``kind`` as a search reads it."""
    modality = item_modalities(model)[kind]
    rows = []
    with torch.inference_mode():
        for start in range(0, len(scenes), BATCH):
            batch = scenes[start : start + BATCH]
            requests = [QueryRequest({modality.name: modality.transform(p[kind])}) for p in batch]
            for answer in model.embed_queries(requests):
                rows.append(np.concatenate([answer[s].vector for s in sorted(answer)]))
    return np.stack(rows)


def recall(queries: np.ndarray, gallery: np.ndarray) -> tuple[float, float]:
    """R@1 and R@10 of each query's own gallery row (ties counted against it)."""
    scores = queries @ gallery.T
    own = np.diag(scores)[:, None]
    rank = (scores > own).sum(axis=1)
    return float((rank < 1).mean()), float((rank < 10).mean())


def measure(model: SearchModel, scenes: Sequence[dict]) -> dict[str, dict[str, list[float]]]:
    """{gallery: {query kind: [R@1, R@10]}} over every pair of different kinds."""
    settings = load_settings()
    limits = DecodeLimits(settings.api.max_image_pixels, settings.indexer.thumbnail_size)
    asked = {kind: query_vectors(model, scenes, kind) for kind in QUERIES}
    table: dict[str, dict[str, list[float]]] = {}
    for name, kinds in GALLERIES.items():
        gallery = gallery_vectors(model, scenes, kinds, limits)
        table[name] = {
            kind: list(recall(asked[kind], gallery)) for kind in QUERIES if (kind,) != kinds
        }
    return table


def markdown(table: dict[str, dict[str, list[float]]]) -> str:
    """The table: a row per gallery, a column per query kind, R@1 / R@10 in each cell."""
    lines = [
        "| gallery \\ query | " + " | ".join(QUERIES) + " |",
        "|---|" + "---|" * len(QUERIES),
    ]
    for name, row in table.items():
        cells = [f"{row[k][0]:.3f} / {row[k][1]:.3f}" if k in row else "-" for k in QUERIES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(found: dict) -> str:
    """What the results file and ``docs/any_to_any.md`` say of one run (its JSON), word for
    word: the docs test renders it again from the JSON and compares."""
    text = (
        f"Model {found['model_name']}@{found['model']}; {found['n']} generated scenes, seed "
        f"{found['seed']}; R@1 / R@10 of the scene's own item.\n\n"
        + markdown(found["table"])
        + "\n\nA reader of each caption that sees no colour and no material and matches only "
        "the objects it names, in order, reaches R@1 "
        f"**{found['colour_blind_ceiling']:.3f}** on these scenes; it is no ceiling, since it "
        "leaves unused that the caption names every visible object."
    )
    if "map_reader_ceiling" not in found:  # results written before the map reader
        return text
    ceiling = found["map_reader_ceiling"]
    rows = [
        f"| {query} -> {gallery} | {found['table'][gallery][query][0]:.3f} | "
        f"{found['table'][gallery][query][0] / ceiling:.2f} |"
        for gallery, query in CAPTION_MAP_PAIRS
        if gallery in found["table"] and query in found["table"][gallery]
    ]
    return (
        text
        + " A perfect reader that sees everything a depth map, a segmentation or a sketch shows "
        "(each object's shape and size, how many there are, their order; no colour or material) "
        f"reaches R@1 **{ceiling:.3f}**: the ceiling of a caption against a map, either way. "
        "Each caption pair against it:\n\n| query -> gallery | R@1 | share of the ceiling |\n"
        "|---|---|---|\n" + "\n".join(rows)
    )


BEGIN, END = "<!-- any_to_any: begin -->", "<!-- any_to_any: end -->"
"""Where ``--doc`` writes the report in a document (the text between is replaced)."""


def write_doc(path: Path, text: str) -> None:
    """Replace what stands between the markers of ``path`` with ``text``."""
    doc = path.read_text()
    head, rest = doc.split(BEGIN, 1)
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}")


def main() -> None:
    """Measure every gallery against every query kind and write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--out", type=Path, help="the results file (Markdown)")
    parser.add_argument("--json", type=Path, help="the same as JSON, for the docs test")
    parser.add_argument("--doc", type=Path, help="a document whose marked section gets the table")
    args = parser.parse_args()
    began = time.monotonic()
    model = load_search_model(args.model, device="cpu")
    scenes, objects = scene_parts(args.n, args.seed)
    found = {
        "n": args.n,
        "seed": args.seed,
        "model_name": model.name,
        "model": model.version,
        "table": measure(model, scenes),
        "colour_blind_ceiling": colour_blind_ceiling([str(p["caption"]) for p in scenes], objects),
        "map_reader_ceiling": map_reader_ceiling([str(p["caption"]) for p in scenes], objects),
    }
    text = report(found)
    command = "PYTHONPATH=. .venv/bin/python lab/any_to_any.py " + " ".join(sys.argv[1:])
    print(f"{text}\n\n{time.monotonic() - began:.0f} s")
    if args.out:
        args.out.write_text(f"Command: `{command}`\n\n{text}\n")
    if args.json:
        args.json.write_text(json.dumps(found, indent=1) + "\n")
    if args.doc:
        write_doc(args.doc, f"Measured by `{command}`:\n\n{text}")


if __name__ == "__main__":
    main()
