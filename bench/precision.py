"""How far bfloat16 gallery vectors are from float32 ones, for each model family this venv loads.

Each family's model is loaded twice through ``load_search_model`` with ``ANYSEEK_MODEL__PRECISION``
forced to float32 and to bfloat16 (whatever ``auto`` would choose on this CPU), the same generated
photos are embedded by both, and the largest absolute difference of a vector component and the
smallest cosine between the two vectors of one image are written per family and space:

    PYTHONPATH=. .venv/bin/python bench/precision.py --images 32 --clip-python .venv-clip/bin/python

The small checkpoints are the conformance fixtures (``tests/fixtures``: the official 4M FM with
its tokenizers, a MultiMAE) and a random-weight open_clip ViT-B-32, measured by the clip venv's
python (``--clip-python``, on the same photos, saved as PNG) or in this one where open_clip is
importable; a family that does not load is listed with the reason. ``docs/models.md`` quotes the
numbers (``bench/quotes.py``).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the packages, not lab/scenes.py; the
# fixtures' layouts are assembled by the tests' code (tests/fixture_layouts.py)

from anyseek.model.service import load_search_model  # noqa: E402
from anyseek.settings import ModelSettings  # noqa: E402

#: the official fixtures' tokenizer folders, named like the repos a user downloads
OFFICIAL_TOKENIZERS = {
    "tokenizer_DINOv2-B14-global": "4M_tokenizers_DINOv2-B14-global_8k_16_224",
    "tokenizer_depth_divae": "4M_tokenizers_depth_8k_224-448",
    "tokenizer_semseg": "4M_tokenizers_semseg_4k_224-448",
}


@dataclass(frozen=True)
class Gap:
    """bfloat16 against float32 vectors of one family's space over the same images."""

    family: str
    space: str
    max_abs: float
    min_cosine: float


def builtin_settings(_: Path) -> ModelSettings:
    """The committed built-in model."""
    return ModelSettings(source="builtin")


def official_settings(folder: Path) -> ModelSettings:
    """The official 4M conformance FM with its tokenizers, as a user lays them out."""
    from fixture_layouts import assemble_fourm

    from anyseek.model.families.official.synthetic import write_tokenizer

    fixtures = assemble_fourm(folder / "fourm")
    tokenizers = folder / "tokenizers"
    for fixture, repo in OFFICIAL_TOKENIZERS.items():
        shutil.copytree(fixtures / fixture / "hub", tokenizers / repo)
    for modality in ("tok_imagebind_global", "tok_canny_edge@224"):  # the fixtures have none
        write_tokenizer(modality, tokenizers)
    return ModelSettings(source=str(fixtures / "fm"), tokenizers=str(tokenizers))


def multimae_settings(_: Path) -> ModelSettings:
    """The MultiMAE conformance checkpoint."""
    return ModelSettings(source=str(ROOT / "tests" / "fixtures" / "multimae" / "checkpoint"))


def open_clip_settings(folder: Path) -> ModelSettings:
    """A ViT-B-32 with random weights (seed 0), saved as a user's own checkpoint file."""
    import open_clip

    torch.manual_seed(0)
    weights = folder / "ViT-B-32.pt"
    torch.save(open_clip.create_model("ViT-B-32").eval().state_dict(), weights)
    return ModelSettings(source=f"open_clip:ViT-B-32/{weights}", cache=str(folder / "cache"))


OPEN_CLIP = "open_clip ViT-B-32 (random weights)"
FAMILIES: dict[str, Callable[[Path], ModelSettings]] = {
    "builtin": builtin_settings,
    "official 4M (fixture)": official_settings,
    "MultiMAE (fixture)": multimae_settings,
    OPEN_CLIP: open_clip_settings,
}


def photos(count: int, side: int, folder: Path) -> list[Path]:
    """Generated scenes saved as PNG photos of ``side`` pixels in ``folder``."""
    from anyseek.scenes.sample import generate_scene

    folder.mkdir()
    paths = [folder / f"{i:03d}.png" for i in range(count)]
    for i, path in enumerate(paths):
        Image.fromarray(generate_scene(20_261_127 + i, side).rgb).save(path)
    return paths


def measured_elsewhere(python: str, family: str, folder: Path) -> list[Gap]:
    """One family's gaps measured by another venv's ``python`` on the same photos."""
    command = [python, __file__, "--families", family, "--photos", str(folder), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return [Gap(**json.loads(line)) for line in done.stdout.splitlines() if line.startswith("{")]


def gaps(family: str, settings: ModelSettings, images: list[Path]) -> list[Gap]:
    """Embed ``images`` in float32 and in bfloat16; the gap per space."""
    exact = load_search_model(settings.model_copy(update={"precision": "float32"}))
    half = load_search_model(settings.model_copy(update={"precision": "bfloat16"}))
    assert (exact.precision, half.precision) == ("float32", "bfloat16")
    batch = torch.stack([exact.image_input(image) for image in images])
    a, b = exact.embed_images(batch), half.embed_images(batch)
    found = []
    for space in a:
        x, y = a[space].astype(np.float64), b[space].astype(np.float64)
        cosine = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
        found.append(Gap(family, space, float(np.abs(x - y).max()), float(cosine.min())))
    return found


def cpu_name() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (else the platform's word)."""
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    except OSError:
        found = None
    return found.group(1).strip() if found else platform.processor() or platform.machine()


def report(found: list[Gap], missing: dict[str, str], args: argparse.Namespace) -> str:
    """The results file: command, machine, one row per family and space."""
    from anyseek.model.runtime.precision import bf16_matmul_pays, native_bf16

    lines = [
        "# bfloat16 against float32 gallery vectors, per model family",
        "",
        "Command (from the repository root):",
        "",
        f"    PYTHONPATH=. .venv/bin/python bench/precision.py --images {args.images} "
        f"--side {args.side} --threads {args.threads}"
        + (f" --clip-python {args.clip_python}" if args.clip_python else ""),
        "",
        f"- CPU: {cpu_name()}, {args.threads} threads, torch {torch.__version__}",
        f"- native bfloat16 by its flags (AVX-512 BF16 / AMX): {native_bf16()}; what "
        f"`ANYSEEK_MODEL__PRECISION=auto` chooses here: "
        f"{'bfloat16' if bf16_matmul_pays() else 'float32'}",
        f"- {args.images} generated photos of {args.side} px, each model's own preprocessing; "
        "each model loaded twice with the precision forced; per space, the largest absolute "
        "difference of one vector component and the smallest cosine between an image's two "
        "vectors (unit vectors: a component is at most 1)",
        "",
        "| family | space | max abs difference | min cosine |",
        "|---|---|---|---|",
    ]
    lines += [f"| {g.family} | {g.space} | {g.max_abs:.6f} | {g.min_cosine:.6f} |" for g in found]
    if missing:
        lines += ["", "Not measured in this run:", ""]
        lines += [f"- {family}: {why}" for family, why in missing.items()]
    return "\n".join(lines) + "\n"


def measure(family: str, folder: Path, images: list[Path], clip_python: str | None) -> list[Gap]:
    """One family's gaps: in this process, or open_clip's by the clip venv's python."""
    if family == OPEN_CLIP and clip_python:
        return measured_elsewhere(clip_python, family, images[0].parent)
    return gaps(family, FAMILIES[family](folder), images)


def main() -> None:
    """Measure every family asked for and write the results file (or print JSON lines)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--side", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated")
    parser.add_argument("--clip-python", help="a venv's python with open_clip (the clip venv)")
    parser.add_argument("--photos", type=Path, help="measure on these PNGs (not generated)")
    parser.add_argument("--json", action="store_true", help="print the gaps, write nothing")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "precision.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    found: list[Gap] = []
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        images = (
            sorted(args.photos.glob("*.png"))
            if args.photos
            else photos(args.images, args.side, root / "photos")
        )
        for n, family in enumerate(args.families.split(",")):
            (root / str(n)).mkdir()
            try:
                found += measure(family, root / str(n), images, args.clip_python)
            except ImportError as error:
                missing[family] = f"not importable in this venv ({error})"
    if args.json:
        for gap in found:
            print(json.dumps(asdict(gap)))
        return
    args.out.write_text(report(found, missing, args))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
