"""``anyseek train``: train the built-in default model from nothing."""

from __future__ import annotations

from pathlib import Path

import typer

from anyseek.errors import SettingsError

app = typer.Typer(help="Train models.", no_args_is_help=True)


@app.command("default")
def default(
    out: Path = typer.Option(..., "--out", help="Run folder (data, checkpoints, log, bundle)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    scale: str = typer.Option("default", "--scale", help="Recipe size: default, or ci (tiny)."),
    stage: str | None = typer.Option(None, "--stage", help="Re-run only this stage."),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
) -> None:
    """Generate data, train teachers, tokenizers and the FM, evaluate, write the model card.

    Resumable: run the same command again after an interruption.
    """
    import torch

    from model.train.pipeline import SCALES, Run, run_pipeline

    if scale not in SCALES:
        raise SettingsError(f"--scale {scale!r}: choose one of {', '.join(SCALES)}")
    if device not in ("cpu", "cuda"):
        raise SettingsError(f"--device {device!r}: choose cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise SettingsError("--device cuda: no CUDA device is available")
    if threads is not None:
        torch.set_num_threads(threads)
    records = run_pipeline(Run(SCALES[scale], out, device), only=stage)
    total = sum(r["seconds"] for r in records.values())
    typer.echo(f"done in {total / 60:.1f} min; bundle: {out / 'bundle'}")
    if (out / "eval.md").is_file():
        typer.echo((out / "eval.md").read_text())
