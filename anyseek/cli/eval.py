"""``anyseek eval retrieval``: measure a model's retrieval quality on held-out generated scenes."""

from __future__ import annotations

from pathlib import Path

import typer

from anyseek.cli.context import settings_of
from anyseek.cli.extras import require_extra
from anyseek.errors import SettingsError

app = typer.Typer(help="Evaluate models.", no_args_is_help=True)

DEFAULT_GALLERY_SEED = 777_001  # the built-in recipe never trains on this seed


@app.command("retrieval")
def retrieval(
    ctx: typer.Context,
    n: int = typer.Option(1000, "--n", help="Gallery size (held-out scenes)."),
    seed: int = typer.Option(DEFAULT_GALLERY_SEED, "--seed", help="Gallery seed."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the report as JSON here."),
    model: str | None = typer.Option(None, "--model", help="Model folder (default: setting)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    human: bool = typer.Option(
        False,
        "--human",
        help="Also ask each scene the way people do (rough sketch, painted segmentation, own "
        "words): the default person and each person held out of training (workbench.styles).",
    ),
) -> None:
    """Query every gallery scene by each of its modalities; print R@k, MRR and attr_P@10."""
    require_extra("scenes", "eval retrieval")
    from anyseek.model.service import load_search_model
    from anyseek.workbench.evaluate import evaluate_generated

    if n < 10:
        raise SettingsError(f"--n must be at least 10 scenes, got {n}")
    source = model or settings_of(ctx).model.source
    search_model = load_search_model(source, device=device)
    result = evaluate_generated(search_model, n, seed, human=human)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(result.to_json() + "\n")
    typer.echo(result.markdown())
