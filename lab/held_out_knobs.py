"""Which of the held-out person's habits costs the built-in model most: one knob at a time.

    PYTHONPATH=. .venv/bin/python lab/held_out_knobs.py --n 1000 \
        --out lab/results/held_out_knobs.md

The held-out person (``scrawl`` in ``anyseek/workbench/styles.py``) differs from the trained-on
people in
many knobs at once. Each row here is that person with one knob given back the ``default``
person's value (the same scenes, drawn from the same seeds), and one row with every knob that lies
outside the training styles' range clipped into it; the model is the committed one. A knob whose
row gains most is what the model does not generalise to, which is what the next recipe's styles
must cover (or an input transform must undo).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.model.families.builtin import load_builtin_search_model
from anyseek.scenes.human import HumanStyle
from anyseek.scenes.sample import generate_scene
from anyseek.scenes.synth import scene_seed
from anyseek.scenes.tensors import from_samples
from anyseek.workbench import styles
from anyseek.workbench.cache import draw_seed, drawings_of
from anyseek.workbench.drawing_transforms import Readers, generator_sketch, model_readers
from anyseek.workbench.evaluate import HUMAN_QUERIES, drawn_values, evaluate_queries, image_vectors

HELD = "scrawl"
TRAINED = ("default", "tidy", "rough", "loose")


def _as_range(value: object) -> tuple[float, float]:
    return (float(value[0]), float(value[1])) if isinstance(value, tuple) else (value, value)


def clipped_into_training(person: HumanStyle) -> HumanStyle:
    """``person`` with every knob moved into the range the training styles span."""
    changes = {}
    for f in fields(HumanStyle):
        spans = [_as_range(getattr(styles.STYLES[t], f.name)) for t in TRAINED]
        low, high = min(s[0] for s in spans), max(s[1] for s in spans)
        value = getattr(person, f.name)
        if isinstance(value, tuple):
            clipped = tuple(type(v)(min(max(v, low), high)) for v in value)
        else:
            clipped = type(value)(min(max(value, low), high))
        if clipped != value:
            changes[f.name] = clipped
    return replace(person, **changes)


def variants() -> dict[str, HumanStyle]:
    """The held-out person, then one knob at a time given back the default person's value,
    then the trained-on people and the default person misplacing things as the held-out one
    does."""
    held, default = styles.STYLES[HELD], styles.STYLES["default"]
    out = {HELD: held}
    for f in fields(HumanStyle):
        if getattr(held, f.name) != getattr(default, f.name):
            out[f"{f.name} = {getattr(default, f.name)}"] = replace(
                held, **{f.name: getattr(default, f.name)}
            )
    out["every knob clipped into the training range"] = clipped_into_training(held)
    out["default"] = default
    # trained-on people (these scenes' drawings never trained on): underfitted or unseen?
    for name in TRAINED[1:]:
        out[f"{name} (trained on)"] = styles.STYLES[name]
    jitter = held.position_jitter
    out[f"default with position_jitter = {jitter}"] = replace(default, position_jitter=jitter)
    return out


def main() -> None:
    """Evaluate each variant of the held-out person on the same scenes; write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--model", default="builtin")
    parser.add_argument(
        "--fit", choices=("crop", "stretch"), help="read drawings with this fit, not the model's"
    )
    parser.add_argument(
        "--only", help="comma-separated people to evaluate (e.g. scrawl,default), not every row"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    began = time.monotonic()
    model = load_builtin_search_model(args.model)
    samples = [generate_scene(scene_seed(args.seed, i), 64) for i in range(args.n)]
    readers = model_readers(model)
    gallery = from_samples(samples, generator_sketch(readers))
    images = image_vectors(model, gallery)
    if args.fit:
        sketch, semseg = (replace(r, fit=args.fit) for r in (readers.sketch, readers.semseg))
        readers = Readers(sketch, semseg)
    rows = []
    people = variants()
    if args.only:
        people = {k: v for k, v in people.items() if k in args.only.split(",")}
    for label, person in people.items():
        styles.STYLES["_variant"] = person  # the drawing code reads people by name
        drawn = drawings_of(
            samples, "_variant", gallery, readers, seed_of=lambda s, _: draw_seed(s, HELD)
        )
        report = evaluate_queries(
            model, gallery, HUMAN_QUERIES, drawn_values(gallery, drawn), images=images
        )
        r = {k: next(iter(v.values())) for k, v in report.items()}
        rows.append((label, r["sketch"]["R@10"], r["semseg"]["R@10"], r["caption"]["R@1"]))
        print(rows[-1], flush=True)
    del styles.STYLES["_variant"]

    base = rows[0]
    lines = [
        "# The held-out person, one knob at a time",
        "",
        f"Command: `PYTHONPATH=. .venv/bin/python lab/held_out_knobs.py --n {args.n} "
        f"--seed {args.seed} --model {args.model}"
        + (f" --fit {args.fit}" if args.fit else "")
        + (f" --only {args.only}" if args.only else "")
        + f"` ({time.monotonic() - began:.0f} s on this "
        "2-core CPU). The committed model; the same "
        f"{args.n:,} scenes, each drawn from the held-out person's seeds; R@10 of sketches and "
        "paintings, R@1 of own words. Each row gives one of `scrawl`'s knobs back the `default` "
        "person's value. Drawings are read with the model's own transforms"
        + (f", their fit replaced by `{args.fit}`." if args.fit else "."),
        "",
        "| person | sketch R@10 | painting R@10 | own words R@1 | sketch gain | painting gain |",
        "|---|---|---|---|---|---|",
    ]
    for label, sketch, semseg, caption in rows:
        lines.append(
            f"| {label} | {sketch:.3f} | {semseg:.3f} | {caption:.3f} | "
            f"{sketch - base[1]:+.3f} | {semseg - base[2]:+.3f} |"
        )
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
