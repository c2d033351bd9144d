"""``anyseek train``: train the built-in default model from nothing."""

from __future__ import annotations

from pathlib import Path

import typer

from anyseek.cli.extras import require_extra
from anyseek.errors import SettingsError

app = typer.Typer(help="Train models.", no_args_is_help=True)


@app.command("default")
def default(
    out: Path = typer.Option(..., "--out", help="Run folder (data, checkpoints, log, bundle)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    recipe: str = typer.Option(
        "default", "--recipe", help="Shipped recipe (default, or ci: tiny) or a recipe .json file."
    ),
    stage: str | None = typer.Option(None, "--stage", help="Re-run only this stage."),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
) -> None:
    """Generate data, train teachers, tokenizers and the FM, evaluate, write the model card.

    Resumable: run the same command again after an interruption.
    """
    require_extra("train", "train default")
    import torch

    from model.workbench import Run, load_recipe, run_pipeline

    config = load_recipe(recipe)
    if device not in ("cpu", "cuda"):
        raise SettingsError(f"--device {device!r}: choose cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise SettingsError("--device cuda: no CUDA device is available")
    if threads is not None:
        torch.set_num_threads(threads)
    records = run_pipeline(Run(config, out, device, recipe), only=stage)
    total = sum(r["seconds"] for r in records.values())
    typer.echo(f"done in {total / 60:.1f} min; bundle: {out / 'bundle'}")
    if (out / "eval.md").is_file():
        typer.echo((out / "eval.md").read_text())
