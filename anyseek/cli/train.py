"""``anyseek train``: train the built-in default model from nothing (``workbench``)."""

from __future__ import annotations

from pathlib import Path

import typer

from anyseek.cli.extras import require_extra
from anyseek.errors import SettingsError

app = typer.Typer(help="Train models.", no_args_is_help=True)


@app.command("default")
def default(
    out: Path = typer.Option(..., "--out", help="Run folder (rendered data, checkpoint, bundle)."),
    recipe: str = typer.Option(
        "default", "--recipe", help="Shipped recipe (default, or tiny for tests) or a .json file."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Go on with the run already in --out (after a stop or a kill)."
    ),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
) -> None:
    """Render the scenes, train the built-in model in checkpointed chunks, write and evaluate its
    bundle (OUT/bundle); install it with ``cp -r OUT/bundle/* model/builtin/weights/``."""
    require_extra("train", "train default")
    from anyseek.workbench.recipe import load_recipe
    from anyseek.workbench.run_lock import hold_run
    from anyseek.workbench.training_run import Run, run_pipeline

    try:
        config = load_recipe(recipe)
    except ValueError as exc:
        raise SettingsError(f"--recipe: {exc}") from None
    if config.train.start_from:  # refused before any scene is rendered
        from anyseek.workbench.training_run import starting_bundle

        try:
            starting_bundle(config)
        except ValueError as exc:  # a BuiltinBundleError too: the folder's file named
            raise SettingsError(f"--recipe: {exc}") from None
    if threads is not None and threads < 1:
        raise SettingsError(f"--threads must be at least 1, got {threads}")
    command = f"anyseek train default --recipe {recipe}"
    with hold_run(out, command):  # a second run into the same folder is refused, naming this one
        if (out / "recipe.json").is_file() and not resume:
            raise SettingsError(
                f"{out} already holds a run: pass --resume to go on with it, or choose another "
                "--out"
            )
        records = run_pipeline(Run(config, out, command), threads=threads)
    typer.echo(f"bundle: {out / 'bundle'}")
    for name, value in records["eval"].items():
        typer.echo(f"{name}: {value}")
