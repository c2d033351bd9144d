"""``anyseek calibrate``: fit a model's relevance calibration (``relevance.json``) on held-out
generated scenes, so its hits carry relevance and ``min_relevance`` works."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from anyseek.cli.context import settings_of
from anyseek.cli.extras import require_extra
from anyseek.errors import SettingsError


def calibrate(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Model source (default: setting)."),
    n: int = typer.Option(400, "--n", help="Scenes per set: one set to fit, one to check."),
    seed: int = typer.Option(555_001, "--seed", help="The fit set's seed (check: seed+100000)."),
    kinds: str | None = typer.Option(
        None,
        "--kinds",
        help="Comma-separated query kinds to fit (default: all); others use the "
        "pooled 'default' fit.",
    ),
    write: Path | None = typer.Option(
        None, "--write", help="The relevance.json to write (default: in the model's folder)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the check table here too."),
) -> None:
    """Fit relevance per query kind on generated scenes; write relevance.json, print the check."""
    require_extra("scenes", "calibrate")
    from anyseek.model.service import FolderModel, load_search_model
    from anyseek.workbench.calibrate import KINDS, write_calibration
    from anyseek.workbench.calibrate import calibrate as fit_calibration

    if n < 10:
        raise SettingsError(f"--n must be at least 10 scenes, got {n}")
    chosen = tuple(k.strip() for k in kinds.split(",") if k.strip()) if kinds else tuple(KINDS)
    unknown = sorted(set(chosen) - set(KINDS))
    if unknown or not chosen:
        raise SettingsError(f"--kinds: unknown {unknown or chosen}; choose from {sorted(KINDS)}")
    search_model = load_search_model(model or settings_of(ctx).model.source)
    if write is None:
        if not isinstance(search_model, FolderModel):
            raise SettingsError("this model has no folder to hold relevance.json: give --write")
        write = Path(search_model.folder) / "relevance.json"
    fit = fit_calibration(search_model, n, seed, chosen)
    write_calibration(fit, write)
    source = model or settings_of(ctx).model.source
    args = ["calibrate", "--model", source, "--n", str(n), "--seed", str(seed)]
    args += ["--kinds", ",".join(chosen)] if kinds else []
    args += ["--write", str(write)] + (["--out", str(out)] if out else [])
    text = fit.markdown(command="anyseek " + shlex.join(args))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    typer.echo(text)
    typer.echo(f"wrote {write}", err=True)


COMMANDS = (calibrate,)
