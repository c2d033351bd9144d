"""``anyseek train default``: the whole built-in model recipe, resumable stage by stage.

Stages (each writes ``<out>/stages/<name>.json`` with its metrics and time when it finishes, and
is skipped when that file exists; the FM stage also resumes mid-run from its training state):

1. ``data``       generate training scenes and a held-out gallery (a seed never used in training)
2. ``text``       train the WordPiece caption tokenizer (official special-token layout)
3. ``teachers``   train the CLIP teacher (rgb, caption) and the self-supervised visual teacher
4. ``tokenizers`` train one MLP VQ-VAE per teacher space on its embeddings; tokenise the targets
5. ``fm``         train the FourM model with the 4M masking objective
6. ``bundle``     export fm, tokenizers and text tokenizer in the official layouts
7. ``eval``       retrieval evaluation of the exported bundle on the gallery
8. ``card``       write MODEL_CARD.md into the bundle
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from anyseek.errors import AnyseekError
from model.bundle.definition import BUILTIN
from model.data.tensors import SceneTensors, load_split
from model.train.bound_teacher import BoundTeacherConfig
from model.train.fm_train import FMTrainConfig, TrainingSet, train_fm
from model.train.global_tokenizers import (
    GlobalTokenizerConfig,
    center_normalize,
    code_scores,
    save_global_tokenizer,
    tokenizer_quality,
    train_global_tokenizer,
)
from model.train.human_augment import HumanAugmentConfig, human_split
from model.train.step import StepOptions, speed_summary
from model.train.teachers import (
    ClipTeacherConfig,
    VisualTeacher,
    VisualTeacherConfig,
    build_clip,
    clip_image_embeddings,
    clip_text_embeddings,
    train_clip_teacher,
    train_visual_teacher,
    visual_embeddings,
)
from model.train.text import save_wordpiece, train_wordpiece

log = logging.getLogger("anyseek.train")

CLIP_SPACE, DINO_SPACE = BUILTIN.space_outputs()["clip"], BUILTIN.space_outputs()["dino"]
PRIOR_IMAGES = 2000  # training images whose mean predicted tokens are the bundle's space priors


@dataclass(frozen=True)
class PipelineConfig:
    """Every size and seed of the recipe; named variants are JSON files in ``recipes/``."""

    size: int = 64
    n_train: int = 4000
    n_gallery: int = 1000
    train_seed: int = 0
    gallery_seed: int = 777_001  # never used for training data
    text_vocab: int = 1000
    object_captions: int = 2  # extra one-object phrasings per training scene ("A red cube.")
    clip: ClipTeacherConfig = field(default_factory=ClipTeacherConfig)
    visual: VisualTeacherConfig = field(default_factory=VisualTeacherConfig)
    bind: BoundTeacherConfig = field(default_factory=BoundTeacherConfig)
    tokenizer: GlobalTokenizerConfig = field(default_factory=GlobalTokenizerConfig)
    fm: FMTrainConfig = field(default_factory=FMTrainConfig)
    fm_step: StepOptions = field(default_factory=StepOptions)  # how the FM step uses the device
    human: HumanAugmentConfig = field(default_factory=HumanAugmentConfig)  # person-drawn copies
    export_dtype: str = "float16"
    decode: str = "expected"  # how the exported bundle turns token predictions into vectors
    workers: int = 2  # processes generating and loading scenes
    loader_workers: int = 0  # processes building FM batches ahead of the trainer (0: inline)


@dataclass
class Run:
    """One pipeline run: its config, output folder and device."""

    config: PipelineConfig
    out: Path
    device: str = "cpu"
    recipe: str = "default"  # the recipe name or file the config came from (for the model card)

    def path(self, *parts: str) -> Path:
        """A path inside the output folder (parents created)."""
        p = self.out.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def bundle_dir(self) -> Path:
        """Where the exported model bundle goes."""
        return self.out / "bundle"


def _speed(info: Any) -> str:
    """The speed part of a progress log line; empty when ``info`` carries no speed."""
    if not isinstance(info, dict) or "step_ms" not in info:
        return ""
    return (
        f", {info['step_ms']:.1f} ms/step, {info['samples/s']:.0f} samples/s, "
        f"{info['tflop/s']:.2f} TFLOP/s, MFU {100 * info['mfu']:.2f}%"
    )


def _bar(total: int, desc: str) -> tuple[tqdm, Callable[[int, Any], None]]:
    """A tqdm bar and a progress callback that advances it and shows the loss."""
    bar = tqdm(
        total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True, mininterval=2.0
    )
    every = max(1, total // 20)

    def update(step: int, info: Any) -> None:
        loss = info["loss"] if isinstance(info, dict) else info
        crossed = (step + 1) // every > bar.n // every  # progress may come every few steps
        bar.update(step + 1 - bar.n)
        bar.set_postfix(loss=f"{loss:.3f}")
        if crossed:
            log.info("%s step %d/%d loss %.4f%s", desc, step + 1, total, loss, _speed(info))

    return bar, update


# ----------------------------------------------------------------------------- stages


def stage_data(run: Run) -> dict[str, Any]:
    """Generate the training scenes and the held-out gallery; cache them as tensors."""
    from model.data.synth import SynthRequest, synthesize

    c = run.config
    scenes_dir = run.out / "scenes"
    resuming = stage_record(run, "data") is None  # an interrupted first run keeps finished splits
    for split, n, seed in (
        ("train", c.n_train, c.train_seed),
        ("gallery", c.n_gallery, c.gallery_seed),
    ):
        if resuming and run.path("tensors", f"{split}.pt").is_file():
            continue
        synthesize(
            SynthRequest(
                out=scenes_dir,
                n=n,
                size=c.size,
                seed=seed,
                workers=c.workers,
                split=split,
                overwrite=True,
            )
        )
        tensors = load_split(scenes_dir, split, c.workers)
        if split == "train" and c.human.share > 0:  # human-style copies beside the originals
            human = human_split(scenes_dir, split, c.human, c.train_seed, c.workers)
            tensors = SceneTensors.concat([tensors, human])
            run.path("tensors", "train_human.json").write_text(json.dumps({"n": len(human)}))
        tensors.save(run.path("tensors", f"{split}.pt"))
    human_file = run.out / "tensors" / "train_human.json"
    return {
        "n_train": c.n_train,
        "n_train_human": json.loads(human_file.read_text())["n"] if human_file.is_file() else 0,
        "n_gallery": c.n_gallery,
        "size": c.size,
        "train_seed": c.train_seed,
        "gallery_seed": c.gallery_seed,
    }


def _train_scenes(run: Run) -> SceneTensors:
    return SceneTensors.load(run.out / "tensors" / "train.pt")


def stage_text(run: Run) -> dict[str, Any]:
    """Train the WordPiece caption tokenizer on every training caption."""
    scenes = _train_scenes(run)
    texts = [c for caps in scenes.captions for c in caps]
    tokenizer = train_wordpiece(texts, vocab_size=run.config.text_vocab)
    save_wordpiece(tokenizer, run.path("text_tokenizer.json"))
    return {"vocab_size": tokenizer.get_vocab_size(), "captions": len(texts)}


def training_captions(
    captions: list[tuple[str, ...]], object_captions: int, seed: int
) -> list[list[str]]:
    """Each scene's phrasings plus ``object_captions`` one-object captions of random objects.

    People search with one object ("a red cube") far more often than with a scene's full object
    list; the extra phrasings teach the teachers and the FM what such a partial caption matches.
    """
    import random

    from model.data.captions import object_phrases

    rng = random.Random(seed)
    out = []
    for phrasings in captions:
        objects = object_phrases(phrasings[0])
        out.append([*phrasings, *(rng.choice(objects) for _ in range(object_captions))])
    return out


def text_vocab_size(run: Run) -> int:
    """The vocab size of the run's trained WordPiece (recorded by the ``text`` stage)."""
    record = stage_record(run, "text")
    if record is None:
        raise AnyseekError(f"{run.out}: the text stage has not run yet")
    return int(record["metrics"]["vocab_size"])


def _caption_ids(run: Run, scenes: SceneTensors) -> torch.Tensor:
    """[N, K, L] caption ids (ids, [EOS], [PAD]) of every training phrasing of every scene."""
    from model.tokenizers.text import load_text_tokenizer

    text = load_text_tokenizer(run.out / "text_tokenizer.json")
    c = run.config
    captions = training_captions(scenes.captions, c.object_captions, c.train_seed)
    flat = [t for phrasings in captions for t in phrasings]
    return text.caption_batch(flat).ids.view(len(scenes), len(captions[0]), -1)


def stage_teachers(run: Run) -> dict[str, Any]:
    """Train both teachers and store their embeddings of the training images."""
    c = run.config
    scenes = _train_scenes(run)
    ids = _caption_ids(run, scenes)
    vocab = text_vocab_size(run)
    clip_path = run.path("teachers", "clip.pt")
    if clip_path.is_file():  # finished before an interruption
        clip = load_clip_teacher(run)
    else:
        bar, update = _bar(c.clip.steps, "clip teacher")
        clip = train_clip_teacher(
            scenes.rgb, ids, c.clip, vocab, seed=c.train_seed, progress=update, device=run.device
        )
        bar.close()
        torch.save(clip.state_dict(), clip_path)
    dino = _dino_embeddings(run, scenes)
    clip = clip.to(run.device)
    image = clip_image_embeddings(clip, scenes.rgb)
    text = clip_text_embeddings(clip, ids[:, 0])
    torch.save({CLIP_SPACE: image, DINO_SPACE: dino}, run.path("teachers", "embeddings.pt"))
    # how well the CLIP teacher itself matches captions to images (train set, first 1000)
    n = min(1000, len(image))
    sim = F.normalize(text[:n], dim=-1) @ F.normalize(image[:n], dim=-1).t()
    top1 = float((sim.argmax(1) == torch.arange(n)).float().mean())
    return {"clip_text_to_image_R@1_train1000": top1, "vocab_size": vocab}


def _dino_embeddings(run: Run, scenes: SceneTensors) -> torch.Tensor:
    """Train (or reload) the ``dino`` space's teacher and embed the training images: the SimCLR
    teacher, or with ``bind.modalities`` the rgb tower bound to those modalities."""
    from model.train.bound_teacher import BoundTeacher, bound_embeddings, train_bound_teacher

    c = run.config
    if c.bind.modalities:
        path = run.path("teachers", "bound.pt")
        if path.is_file():
            bound = BoundTeacher(c.bind)
            bound.load_state_dict(torch.load(path))
        else:
            bar, update = _bar(c.bind.steps, "bound teacher")
            bound = train_bound_teacher(
                scenes, c.bind, seed=c.train_seed, progress=update, device=run.device
            )
            bar.close()
            torch.save(bound.state_dict(), path)
        return bound_embeddings(bound.eval(), scenes)
    path = run.path("teachers", "dino.pt")
    if path.is_file():
        visual = load_visual_teacher(run)
    else:
        bar, update = _bar(c.visual.steps, "visual teacher")
        visual = train_visual_teacher(
            scenes.rgb, c.visual, seed=c.train_seed, progress=update, device=run.device
        )
        bar.close()
        torch.save(visual.state_dict(), path)
    return visual_embeddings(visual.to(run.device), scenes.rgb)


def stage_tokenizers(run: Run) -> dict[str, Any]:
    """Train a global tokenizer per teacher space; tokenise the FM targets."""
    from model.fourm.modalities import get_modality

    embeddings = torch.load(run.out / "teachers" / "embeddings.pt")
    metrics, targets, scores = {}, {}, {}
    for space, raw in embeddings.items():
        config = replace(run.config.tokenizer, codebook_size=get_modality(space).vocab_size)
        vectors = center_normalize(raw, raw.float().mean(0))
        bar, update = _bar(config.steps, f"tokenizer {space}")
        tok = train_global_tokenizer(
            vectors, config, seed=run.config.train_seed, progress=update, device=run.device
        )
        bar.close()
        save_global_tokenizer(tok, run.out / "tokenizers" / space)
        targets[space] = tok.encode(vectors)
        scores[space] = code_scores(tok, vectors, config.live_codes or config.codebook_size)
        metrics[space] = tokenizer_quality(tok, vectors)
    torch.save(targets, run.path("tokenizers", "targets.pt"))
    torch.save(scores, run.path("tokenizers", "scores.pt"))
    return metrics


def stage_fm(run: Run) -> dict[str, Any]:
    """Train the FourM model on the masked-token objective (resumes from its state file)."""
    c = run.config
    scenes = _train_scenes(run)
    scores = None
    if c.fm.target_temperature is not None:
        scores = torch.load(run.out / "tokenizers" / "scores.pt")
    anchors, decoders = None, None
    if c.fm.align.weight > 0:
        anchors, decoders = _alignment_parts(run)
    data = TrainingSet(
        scenes,
        _caption_ids(run, scenes),
        torch.load(run.out / "tokenizers" / "targets.pt"),
        scores,
        text_vocab_size(run),
        anchors,
    )
    bar, update = _bar(c.fm.steps, "fm")
    losses: list[float] = []  # per step: the mean of its reporting window
    windows: list[dict[str, float]] = []

    def progress(step: int, info: dict[str, float]) -> None:
        losses.extend([info["loss"]] * int(info["steps"]))
        windows.append(info)
        update(step, info)

    fm = train_fm(
        data,
        c.fm,
        run.path("fm_state.pt"),
        seed=c.train_seed,
        progress=progress,
        device=run.device,
        live=c.tokenizer.live_codes,
        workers=c.loader_workers,
        options=c.fm_step,
        decoders=decoders,
    )
    bar.close()
    torch.save(fm.state_dict(), run.path("fm_final.pt"))
    head, tail = losses[:50] or [float("nan")], losses[-50:] or [float("nan")]
    return {
        "first_loss_mean_first50": sum(head) / len(head),
        "final_loss_mean_last50": sum(tail) / len(tail),
        "steps": c.fm.steps,
        "parameters": sum(p.numel() for p in fm.parameters()),
        **speed_summary(windows),
    }


def _alignment_parts(run: Run) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The alignment term's anchors (centred, normalised teacher embeddings, what the tokenizers
    encode) and each space's trained tokenizer, frozen, on the run's device."""
    from model.tokenizers import load_vq_tokenizer

    raw = torch.load(run.out / "teachers" / "embeddings.pt")
    align = run.config.fm.align
    unknown = sorted(set(align.spaces) - set(raw))
    if unknown:
        raise AnyseekError(f"fm.align.spaces names no space of this run: {', '.join(unknown)}")
    anchors = {
        space: center_normalize(v, v.float().mean(0))
        for space, v in raw.items()
        if align.aligned(space)
    }
    decoders = {}
    for space in anchors:
        tok = load_vq_tokenizer(run.out / "tokenizers" / space, device=run.device)
        decoders[space] = tok.requires_grad_(False)
    return anchors, decoders


def _export_safetensors(tensors: dict[str, torch.Tensor], path: Path, dtype: torch.dtype) -> None:
    """Write ``tensors`` with floating-point ones cast to ``dtype`` (integer ones unchanged)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    cast = {
        k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in tensors.items()
    }
    save_file(cast, str(path))


def stage_bundle(run: Run) -> dict[str, Any]:
    """Export FM, tokenizers and text tokenizer into the bundle folder (official layouts), and
    the spaces' priors: the mean token distribution the exported FM predicts for training images.

    Weights are stored in ``export_dtype``; the loaders cast them back to the model's dtype.
    """
    import shutil

    from safetensors.torch import load_file

    from model.bundle.declarations import declare
    from model.bundle.loading import BUNDLE_FILE

    c = run.config
    out = run.bundle_dir
    if out.exists():
        shutil.rmtree(out)
    (out / "fm").mkdir(parents=True)
    fm = c.fm.fourm_config(BUILTIN.outputs, text_vocab_size(run))
    (out / "fm" / "config.json").write_text(json.dumps(fm.to_dict(), indent=2, sort_keys=True))
    dtype = getattr(torch, c.export_dtype)
    _export_safetensors(
        torch.load(run.out / "fm_final.pt"), out / "fm" / "model.safetensors", dtype
    )
    spaces = {}
    for space in fm.domains_out:
        source, target = run.out / "tokenizers" / space, out / "tokenizers" / space
        _export_safetensors(
            load_file(str(source / "model.safetensors")), target / "model.safetensors", dtype
        )
        shutil.copy(source / "config.json", target / "config.json")
        spaces[space] = f"tokenizers/{space}"
    shutil.copy(run.out / "text_tokenizer.json", out / "text_tokenizer.json")
    manifest = {
        "fm": "fm",
        "spaces": spaces,
        "text_tokenizer": "text_tokenizer.json",
        "image_size": c.size,
        "decode": c.decode,
        "recipe": f"anyseek train default --recipe {run.recipe}",
        **declare(fm.domains_in, fm.domains_out).to_json(),
    }
    (out / BUNDLE_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    manifest["priors"] = _export_priors(run, dtype)  # needs the exported bundle to load
    (out / BUNDLE_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"bytes": size}


def _export_priors(run: Run, dtype: torch.dtype) -> str:
    """Write ``priors.safetensors`` into the exported bundle (``model.bundle.loading``)."""
    from model.bundle.loading import estimate_priors, load_bundle
    from model.data.tensors import pixel_inputs

    bundle = load_bundle(run.bundle_dir, device=run.device)
    scenes = _train_scenes(run)
    index = torch.arange(min(PRIOR_IMAGES, len(scenes)))
    rgb = bundle.modality(BUILTIN.image)
    priors = estimate_priors(bundle, pixel_inputs(scenes, index, [rgb])[rgb])
    _export_safetensors(priors, run.bundle_dir / "priors.safetensors", dtype)
    return "priors.safetensors"


def stage_eval(run: Run) -> dict[str, Any]:
    """Retrieval evaluation of the exported bundle on the held-out gallery."""
    from model.bundle.loading import load_bundle
    from model.eval.retrieval import evaluate_retrieval, write_report

    t0 = time.monotonic()
    bundle = load_bundle(run.bundle_dir, device=run.device)
    load_s = time.monotonic() - t0
    gallery = SceneTensors.load(run.out / "tensors" / "gallery.pt")
    result = evaluate_retrieval(
        bundle,
        gallery,
        seed=run.config.gallery_seed,
        progress=lambda q: log.info("eval query %s", q),
    )
    write_report(result, run.bundle_dir / "eval.json")
    (run.out / "eval.md").write_text(result.markdown())
    return {"bundle_load_s": load_s, "report": result.report}


def stage_card(run: Run) -> dict[str, Any]:
    """Write MODEL_CARD.md into the bundle from the recorded stage metrics."""
    from model.train.card import write_model_card

    path = write_model_card(run, {name: stage_record(run, name) for name, _ in STAGES})
    return {"path": str(path)}


STAGES: tuple[tuple[str, Callable[[Run], dict[str, Any]]], ...] = (
    ("data", stage_data),
    ("text", stage_text),
    ("teachers", stage_teachers),
    ("tokenizers", stage_tokenizers),
    ("fm", stage_fm),
    ("bundle", stage_bundle),
    ("eval", stage_eval),
    ("card", stage_card),
)


def stage_record(run: Run, name: str) -> dict[str, Any] | None:
    """The finished record of a stage, or None if it has not finished."""
    path = run.out / "stages" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def run_pipeline(run: Run, *, only: str | None = None) -> dict[str, Any]:
    """Run every unfinished stage in order (or just ``only``); returns all stage records."""
    names = [n for n, _ in STAGES]
    if only is not None and only not in names:
        raise AnyseekError(f"unknown stage {only!r}; stages: {', '.join(names)}")
    run.out.mkdir(parents=True, exist_ok=True)
    _attach_log(run.out / "train.log")
    config_path = run.out / "config.json"
    config = asdict(run.config)
    if config_path.is_file() and not same_config(
        json.loads(config_path.read_text()),
        json.loads(json.dumps(config)),
        json.loads(json.dumps(asdict(PipelineConfig()))),
    ):
        raise AnyseekError(f"{run.out} holds a run with another config; use a new --out folder")
    config_path.write_text(json.dumps(config, indent=2))
    records = {}
    for name, fn in STAGES:
        if only is not None and name != only:
            continue
        done = stage_record(run, name)
        if done is not None and only is None:
            log.info("stage %s already done (%.0f s), skipping", name, done["seconds"])
            records[name] = done
            continue
        log.info("stage %s: start", name)
        t0 = time.monotonic()
        metrics = fn(run)
        record = {
            "stage": name,
            "seconds": time.monotonic() - t0,
            "metrics": metrics,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "device": run.device,
            "device_name": _device_name(run.device),
            "threads": torch.get_num_threads(),
        }
        run.path("stages", f"{name}.json").write_text(json.dumps(record, indent=2))
        log.info("stage %s: done in %.1f s", name, record["seconds"])
        records[name] = record
    return records


def same_config(stored: Any, current: Any, default: Any) -> bool:
    """Whether a run's stored config is ``current``; a key the stored one lacks (a setting added
    since, e.g. ``fm.caption_vocab``) matches when ``current`` has its default value there."""
    if not (isinstance(stored, dict) and isinstance(current, dict)):
        return stored == current
    if set(stored) - set(current):
        return False
    default = default if isinstance(default, dict) else {}
    return all(
        same_config(stored[k], v, default.get(k)) if k in stored else v == default.get(k, object())
        for k, v in current.items()
    )


def _device_name(device: str) -> str:
    """The accelerator's or processor's name, for the stage records and the model card."""
    import platform

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def _attach_log(path: Path) -> None:
    """Log INFO lines of the run to ``path`` (once per process)."""
    if any(getattr(h, "baseFilename", None) == str(path.resolve()) for h in log.handlers):
        return
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def load_clip_teacher(run: Run):
    """Rebuild the trained CLIP teacher of a run (for analysis)."""
    model = build_clip(run.config.clip, text_vocab_size(run))
    model.load_state_dict(torch.load(run.out / "teachers" / "clip.pt"))
    return model.eval()


def load_visual_teacher(run: Run) -> VisualTeacher:
    """Rebuild the trained visual teacher of a run (for analysis)."""
    model = VisualTeacher(run.config.visual)
    model.load_state_dict(torch.load(run.out / "teachers" / "dino.pt"))
    return model.eval()
