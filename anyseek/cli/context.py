"""How CLI commands reach the settings created once by the root callback."""

from __future__ import annotations

import typer

from anyseek.settings import Settings


def settings_of(ctx: typer.Context) -> Settings:
    """The settings object created by the root callback."""
    return ctx.find_root().obj
