"""``anyseek data``: generate the procedural scene dataset and look at it."""

from __future__ import annotations

from pathlib import Path

import typer

from anyseek.cli.extras import require_extra
from anyseek.errors import SettingsError

app = typer.Typer(
    help="Generate and inspect procedural multimodal scene datasets.", no_args_is_help=True
)


@app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", help="Dataset root folder (created if missing)."),
    n: int = typer.Option(..., "--n", help="Number of scenes to generate."),
    size: int = typer.Option(64, "--size", help="Square resolution in pixels."),
    seed: int = typer.Option(0, "--seed", help="Base seed; scene i uses a seed derived from it."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    split: str = typer.Option("train", "--split", help="Split folder to write."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the split if it exists."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Render N scenes with all aligned modalities into OUT/SPLIT."""
    require_extra("scenes", "data synth")
    from anyseek.scenes.synth import SynthRequest, synthesize

    req = SynthRequest(out, n, size, seed, workers, split, overwrite)
    synthesize(req, progress=not quiet)
    typer.echo(f"wrote {n} scenes of {size}x{size} px to {out / split}")


@app.command("show")
def show(
    root: Path = typer.Argument(..., help="Dataset root written by `anyseek data synth`."),
    n: int = typer.Option(8, "--n", help="Number of samples (rows)."),
    out: Path = typer.Option(Path("sheet.png"), "--out", help="Where to write the PNG."),
    split: str = typer.Option("train", "--split", help="Split to show."),
    start: int = typer.Option(0, "--start", help="First sample index."),
) -> None:
    """Write a contact sheet: one row per sample, every modality side by side."""
    require_extra("scenes", "data show")
    from anyseek.scenes.contact_sheet import contact_sheet
    from anyseek.scenes.dataset import SceneReader

    if n <= 0:
        raise SettingsError(f"--n must be a positive number of samples, got {n}")
    reader = SceneReader(root, split)
    if not 0 <= start < len(reader):
        raise SettingsError(f"--start {start} is outside the split's {len(reader)} samples")
    samples = [reader[i] for i in range(start, min(len(reader), start + n))]
    try:
        contact_sheet(samples).save(out)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot write the contact sheet to {out}: {exc}") from exc
    typer.echo(f"wrote a contact sheet of {len(samples)} samples to {out}")
