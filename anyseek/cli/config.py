"""``anyseek config``: inspect the effective settings."""

from __future__ import annotations

import json

import typer

from anyseek.cli.context import settings_of
from anyseek.settings import masked

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the effective settings as JSON, with secrets masked."""
    typer.echo(json.dumps(masked(settings_of(ctx)), indent=2, sort_keys=True))
