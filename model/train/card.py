"""Write the model card of a trained bundle from the run's recorded stage metrics."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from model.bundle.definition import BUILTIN


class Run(Protocol):
    """What the card reads of a pipeline run (``model.train.pipeline.Run``), without importing
    the pipeline, which imports this module."""

    config: Any
    out: Path
    device: str
    recipe: str

    @property
    def bundle_dir(self) -> Path: ...


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


_DECODE = {
    "greedy": "argmax code of every token, the official way",
    "expected": "the probability-weighted mean code of every token, which keeps the model's "
    "uncertainty instead of collapsing it onto one code",
}


def _labels(temperature: float | None) -> str:
    """One sentence on the FM's token labels."""
    if temperature is None:
        return "Labels: one-hot target tokens (the official 4M loss)."
    return (
        "Labels: the tokenizer's own code distribution of each target token, softmax(scores / "
        f"{temperature}) with scores in units of their standard deviation, instead of one-hot "
        "tokens: memcodes' top-1 and top-2 scores differ by about a sixth of a standard deviation, "
        "so one-hot labels are nearly arbitrary between neighbouring codes."
    )


def _caption_rows(config: Any) -> str:
    """One sentence on the size of the FM's caption table."""
    if config.fm.caption_vocab == "registry":
        return "The FM's caption table keeps the 4M registry's 30,000 rows."
    return "The FM's caption table has one row per WordPiece id (its own text vocabulary)."


def _speed(fm: dict) -> str:
    """One sentence on how fast the FM step ran (empty for runs recorded before it was measured)."""
    if "mfu" not in fm:
        return ""
    return (
        f" Step: {fm['step_ms_median']:.1f} ms, {fm['samples_per_s']:.0f} samples/s, "
        f"{fm['flops_per_step'] / 1e9:.0f} GFLOP of matmuls, {fm['mfu']:.1%} of the device's peak "
        "(MFU; medians over the run)."
    )


#: (query, metric, target) of the issue that defines the built-in model
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("sketch", "R@10", 0.95),
    ("sketch", "R@1", 0.7),
    ("depth", "R@10", 0.95),
    ("depth", "R@1", 0.7),
    ("semseg", "R@10", 0.95),
    ("semseg", "R@1", 0.7),
    ("caption", "attr_P@10", 0.9),
    ("object", "attr_P@10", 0.9),
)
SPACES = (*BUILTIN.space_outputs(), "fused")


def targets_table(report: dict) -> str:
    """Markdown table: each target, the best measured space and value, met or not."""
    lines = ["| target | measured (best space) | met |", "|---|---|---|"]
    for query, metric, goal in TARGETS:
        if query not in report:
            continue
        space, value = max(
            ((s, report[query][s][metric]) for s in SPACES if s in report[query]),
            key=lambda sv: sv[1],
        )
        ceiling = report[query].get("ceiling", {}).get(metric)
        bound = f"; at most {ceiling:.3f} is possible" if ceiling is not None else ""
        lines.append(
            f"| {query} {metric} >= {goal} | {value:.3f} ({space}{bound}) | "
            f"{'yes' if value >= goal else 'no'} |"
        )
    if {"caption", "sketch", "caption+sketch"} <= set(report):
        both = report["caption+sketch"]["fused"]["MRR"]
        alone = max(report["caption"]["fused"]["MRR"], report["sketch"]["fused"]["MRR"])
        lines.append(
            f"| caption+sketch MRR > max(caption, sketch) (fused) | {both:.3f} vs "
            f"{alone:.3f} | {'yes' if both > alone else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def write_model_card(run: Run, records: dict[str, dict | None]) -> Path:
    """Render MODEL_CARD.md into the bundle folder from every stage's record (None: not run)."""
    c = run.config
    timing = "\n".join(
        f"| {name} | {_minutes(r['seconds'])} | {r['device']} |"
        for name, r in records.items()
        if r is not None
    )
    total = sum(r["seconds"] for r in records.values() if r is not None)
    tok = records["tokenizers"]["metrics"] if records["tokenizers"] else {}
    fm = records["fm"]["metrics"] if records["fm"] else {}
    size = records["bundle"]["metrics"]["bytes"] if records["bundle"] else 0
    eval_md = (run.out / "eval.md").read_text() if (run.out / "eval.md").is_file() else "(not run)"
    report = records["eval"]["metrics"]["report"] if records["eval"] else {}
    targets = targets_table(report) if report else "(not evaluated)"
    decode = c.decode
    device = records["fm"]["device"] if records["fm"] else run.device
    threads = records["fm"]["threads"] if records["fm"] else "?"
    device_name = (records["fm"] or {}).get("device_name")
    device_text = f"{device} ({device_name})" if device_name else device
    name = Path(run.recipe).stem
    command = f"anyseek train default --recipe {run.recipe} --out runs/{name}"
    if device.startswith("cuda"):
        command += " --device cuda"
    tok_lines = "\n".join(
        f"| {space} | {m['reconstruction_cosine']:.3f} | {m['self_retrieval_R@1']:.3f} | "
        f"{m['codes_used_per_head']:.0f} | {m['distinct_token_sequences']:.0f} |"
        for space, m in tok.items()
    )
    text = f"""# anyseek built-in model

A small any-to-any model of the 4M family, trained from nothing on procedurally generated scenes
by one command. It is the default model of anyseek (`ANYSEEK_MODEL__SOURCE=builtin`): it turns
an image, a sketch, a depth map, a segmentation map, surface normals, an edge map, a caption, or
any combination of them into two global embeddings (`clip`: semantic, aligned with text; `dino`:
visual layout and appearance), so that any of them can find images.

## Reproduce

```
{command}
cp -r runs/{name}/bundle/* model/builtin/
```

The run is resumable: run the same command again after an interruption. Progress is logged to
`runs/{name}/train.log`; each finished stage writes `runs/{name}/stages/<stage>.json`.

## Data

{c.n_train} training scenes at {c.size}x{c.size} (seed {c.train_seed}) from the scene generator;
{c.n_gallery} held-out gallery scenes for evaluation, generated with seed {c.gallery_seed},
which is never used for training. Every scene has rgb, depth, normals, semantic segmentation,
Canny edges, a hand-drawn-style sketch and four caption phrasings; training adds
{c.object_captions} one-object phrasings per scene ("A small red cube.").

## Recipe (4M-21, scaled down)

1. Teachers: a small CLIP (open-clip-torch, ViT {c.clip.vision_layers}x{c.clip.vision_width}
   patch {c.clip.patch_size}, text transformer {c.clip.text_layers}x{c.clip.text_width}, embed
   {c.clip.embed_dim}; {c.clip.steps} steps of batch {c.clip.batch_size}) on (rgb, caption) pairs
   -> `clip` space; a SimCLR conv encoder (widths {list(c.visual.widths)}, mild layout-preserving
   augmentations, strong colour changes, and with probability {c.visual.edge_view_p} a view is the
   image's own edge map; {c.visual.steps} steps) on rgb -> `dino` space.
2. Global tokenizers: MLP VQ-VAEs of the official DINOv2-global family (BottleneckMLP
   B_{c.tokenizer.blocks}-Wi_{c.tokenizer.width}, memcodes with {c.tokenizer.num_codebooks} heads
   = 16 tokens, codebook = the modality's vocabulary), trained on L2-normalised teacher embeddings.
3. Text tokenizer: WordPiece ({c.text_vocab} target vocabulary) trained with `tokenizers`, official
   special ids (`[PAD]`=0, `[UNK]`=1, `[SOS]`=2, `[EOS]`=3, `[S_0]`.. from 4). {_caption_rows(c)}
4. FourM: dim {c.fm.dim}, encoder depth {c.fm.encoder_depth}, decoder depth {c.fm.decoder_depth},
   {c.fm.num_heads} heads, SwiGLU, no biases ({fm.get("parameters", 0) / 1e6:.1f} M parameters);
   inputs {", ".join(BUILTIN.domains_in(c.fm.resolution))}; targets {", ".join(BUILTIN.outputs)}.
   4M masking: per sample Dirichlet(alpha={c.fm.masking.alpha}) split of
   {c.fm.masking.input_budget} input tokens over the inputs, {c.fm.masking.target_budget} target
   tokens over the targets; {c.fm.masking.p_full_single:.0%} of samples show one whole input
   modality. {c.fm.steps} steps of batch {c.fm.batch_size}, AdamW lr {c.fm.lr}, cosine schedule.
   {_labels(c.fm.target_temperature)}{_speed(fm)}
5. Retrieval vectors: {c.decode} decoding of the predicted tokens ({_DECODE[c.decode]}).

Full config: `config.json` of the run; the FM config ships in `fm/config.json`.

## Tokenizer quality (training embeddings)

Embeddings are centred (training mean removed) and L2-normalised before tokenizing. Self-retrieval:
how often a decoded vector is nearest to its own original among the first 1000 training images.

| space | reconstruction cosine | self-retrieval R@1 | codes used per head | distinct sequences |
|---|---|---|---|---|
{tok_lines}

## Training time

Device: {device_text}, {threads} CPU threads.

| stage | time | device |
|---|---|---|
{timing}
| total | {_minutes(total)} | |

## Retrieval on the held-out gallery

Query with each modality of a gallery scene; the relevant answer is its rgb image indexed from
predicted rgb embeddings ({decode} decoding). `fused` is what search does: each space's cosine
weighted by how much the model's prediction in that space says about the query
(`model.inference.fusion`: weight = information^2, information = mean KL divergence of the
predicted tokens from the space's prior in `priors.safetensors`), so a sketch is scored by the
space that can read it. `caption` queries use the short object-list phrasing, which names every
visible object; `object` queries name only the first of them ("A small red cube."). attr_P@10 is
the fraction of the top 10 whose scene has every stated object with every stated attribute; its
`ceiling` row is the best any ranking can reach (a caption naming every object fits about one
gallery scene, so the `caption` ceiling is low by construction) and its `random` row what chance
gives. `edge_baseline`: blurred sketch vs blurred Canny edges of the gallery images. `random`:
expected values of a random ranking.

{eval_md}
### Targets

{targets}
## Files

Bundle size: {size / 1e6:.1f} MB (weights stored as {c.export_dtype}).
`bundle.json` names the parts; `fm/` is a FourM hub folder, `tokenizers/<space>/` are VQ-VAE hub
folders, `text_tokenizer.json` is the WordPiece tokenizer; `eval.json` is the report above.

## Limits

Trained only on synthetic scenes of simple shapes; it knows nothing about real photographs.
"""
    path = run.bundle_dir / "MODEL_CARD.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    (run.bundle_dir / "train_config.json").write_text(json.dumps(asdict(c), indent=2))
    return path
