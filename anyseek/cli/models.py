"""``anyseek models``: fetch a named model's weights ahead of time, and see what is cached.

A server loads a named model (``ANYSEEK_MODEL__SOURCE=open_clip:ARCH/TAG``) from the model cache
(``ANYSEEK_MODEL__CACHE``, default ``<data dir>/models``) before it touches the network, so after
``anyseek models pull NAME`` it starts with no network at all.
"""

from __future__ import annotations

from pathlib import Path

import typer

from anyseek.cli.context import settings_of
from anyseek.cli.lazy import LazyModule
from anyseek.cli.output import echo_table

# the model layer loads torch (~5 s cold): only when a models command runs
service = LazyModule("anyseek.model.service")

app = typer.Typer(
    help="Fetch named models' weights into the model cache, and list what it holds.",
    no_args_is_help=True,
)


def _cache(ctx: typer.Context) -> Path:
    """The model cache of the settings (ANYSEEK_MODEL__CACHE, default <data dir>/models)."""
    return Path(settings_of(ctx).model.cache).expanduser()


@app.command("pull")
def pull(
    ctx: typer.Context,
    name: str = typer.Argument(
        ...,
        help="the model as ANYSEEK_MODEL__SOURCE names it: open_clip:ARCH/TAG or "
        "open_clip:hf-hub:ORG/NAME (the open_clip: prefix may be left out)",
    ),
) -> None:
    """Download a named model's weights into the model cache, checked, so it loads offline.

    A progress bar shows each file; each is checked against the size and hash the hub declares.
    Files already cached are hashed again (a damaged one is downloaded anew); an interrupted pull
    continues where it stopped when run again. The hub is HF_ENDPOINT (default
    https://huggingface.co)."""
    cache = _cache(ctx)
    files = service.pull_model(name, cache, progress=True)
    rows = [(f.name, _size(f.size), f.how) for f in files]
    echo_table(("file", "size", "state"), rows)
    typer.echo(f"{name} is in the model cache {cache}: it loads from there with no network")


@app.command("list")
def list_(
    ctx: typer.Context,
    cached_only: bool = typer.Option(
        False, "--cached", help="only what the cache holds, not what open_clip offers"
    ),
) -> None:
    """List the models in the model cache and the pretrained models open_clip offers.

    Cached models load with no network; a pull that stopped is named with its size."""
    cache = _cache(ctx)
    repos = service.cached_models(cache)
    if repos:
        typer.echo(f"in the model cache {cache}:")
        rows = [
            (", ".join(r.names) or "-", r.repo, ", ".join(r.files) or "-", _size(r.size))
            for r in repos
        ]
        echo_table(("name", "hub repo", "files", "size"), rows)
        for repo in (r for r in repos if r.partial):
            typer.echo(
                f"{repo.repo}: a pull stopped after {_size(repo.partial)}; pull it again to "
                "continue"
            )
    else:
        typer.echo(f"the model cache {cache} holds no model yet: anyseek models pull NAME")
    if cached_only:
        return
    try:
        offered = service.offered_models()
    except service.ModelError as missing:
        typer.echo(f"\nopen_clip's pretrained models cannot be listed here: {missing}")
        return
    typer.echo(f"\nopen_clip offers {len(offered)} pretrained models (anyseek models pull NAME):")
    ready = {name for r in repos for name in r.names}
    for name in offered:
        typer.echo(f"{name}  (cached)" if name in ready else name)


def _size(count: int) -> str:
    """A byte count as people read it: 512 B, 3.4 MiB, 1.2 GiB."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
