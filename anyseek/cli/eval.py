"""``anyseek eval``: measure a model's retrieval quality on held-out generated scenes."""

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
    model: str | None = typer.Option(None, "--model", help="Bundle folder (default: setting)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    decode: str | None = typer.Option(
        None, "--decode", help="greedy or expected (default: the bundle's own)."
    ),
    human: bool = typer.Option(
        False,
        "--human",
        help="Also ask each scene the way a person does (rough sketch, painted segmentation, "
        "own words; model.data.human) and report those queries beside the generator's.",
    ),
) -> None:
    """Query every gallery scene by each of its modalities; print R@k, MRR and attr_P@10."""
    require_extra("scenes", "eval retrieval")
    from dataclasses import replace

    from model.workbench import (
        DECODE_MODES,
        beside,
        evaluate_human,
        evaluate_retrieval,
        from_samples,
        generate_scene,
        load_bundle,
        scene_seed,
        write_report,
    )

    if n < 10:
        raise SettingsError(f"--n must be at least 10 scenes, got {n}")
    if decode is not None and decode not in DECODE_MODES:
        raise SettingsError(f"--decode must be one of {', '.join(DECODE_MODES)}, got {decode!r}")
    bundle = load_bundle(model or settings_of(ctx).model.source, device=device)
    bundle = replace(bundle, decode=decode or bundle.decode)
    size = int(bundle.modality("rgb").split("@")[1])
    samples = [generate_scene(scene_seed(seed, i), size) for i in range(n)]
    gallery = from_samples(samples)
    result = evaluate_retrieval(bundle, gallery, seed=seed)
    if human:
        result = beside(result, evaluate_human(bundle, gallery, samples, seed=seed))
    write_report(result, json_path)
    typer.echo(result.markdown())
