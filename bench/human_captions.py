"""What reading people's words costs the built-in model: human-style captions read three ways.

Each held-out scene is asked by a person's caption (``model.data.human``: synonyms, some objects,
filler words) read as typed (the service before synonyms and unknown-word handling), with people's
synonyms mapped to the scene words, and mapped with the words the model cannot read left out (the
service now). R@k only: attr_P@10 would parse each reading's own words. Prints a markdown
table; results in ``bench/results/human.md``.

    python bench/human_captions.py --n 1000
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from model.bundle.loading import load_bundle
from model.data import generate_scene
from model.data.synonyms import canonical_caption
from model.data.synth import scene_seed
from model.data.tensors import from_samples
from model.eval.human import human_queries
from model.eval.retrieval import evaluate_retrieval
from model.families.builtin import caption_text

READINGS = {
    "as typed": lambda text, caption: caption,
    "synonyms mapped": lambda text, caption: canonical_caption(caption),
    "synonyms mapped, unknown words left out (service)": lambda text, caption: (
        caption_text(text, caption) or "."
    ),
}


def main() -> None:
    """Measure and print one row per reading."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=777_001)
    args = parser.parse_args()
    bundle = load_bundle("builtin")
    samples = [generate_scene(scene_seed(args.seed, i), 64) for i in range(args.n)]
    gallery = from_samples(samples)
    drawn = human_queries(samples)
    print(f"Gallery: {args.n} held-out scenes (seed {args.seed}), fused\n")
    print("| human caption read | R@1 | R@5 | R@10 | MRR |\n|---|---|---|---|---|")
    for name, read in READINGS.items():
        captions = [(read(bundle.text, d.caption),) * 4 for d in drawn]
        asked = replace(gallery, captions=captions)
        report = evaluate_retrieval(bundle, asked, queries={"caption": ("caption",)}).report
        m = report["caption"]["fused"]
        cells = " | ".join(f"{m[k]:.3f}" for k in ("R@1", "R@5", "R@10", "MRR"))
        print(f"| {name} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
