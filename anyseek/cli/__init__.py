"""The ``anyseek`` command line: one Typer app composed of one sub-app module per command group.

Adding a command group is one entry in :data:`COMMAND_GROUPS`. Settings are read once here, in the
root callback, and handed to every command through the Typer context.
"""

from __future__ import annotations

import importlib
import sys
import typing
from pathlib import Path

import typer
import typer.core

from anyseek.errors import AnyseekError, plain
from anyseek.settings import load_settings

# (group name, module exposing ``app: typer.Typer``)
COMMAND_GROUPS: tuple[tuple[str, str], ...] = (
    ("config", "anyseek.cli.config"),
    ("db", "anyseek.cli.db"),
    ("collections", "anyseek.cli.collections"),
    ("demo", "anyseek.cli.demo"),
    ("data", "anyseek.cli.data"),
    ("train", "anyseek.cli.train"),
    ("eval", "anyseek.cli.eval"),
    ("calibrate", "anyseek.cli.calibrate"),
    ("jobs", "anyseek.cli.index"),
    ("search", "anyseek.cli.search"),
    ("export", "anyseek.cli.export"),
    ("duplicates", "anyseek.cli.duplicates"),
    ("reindex", "anyseek.cli.reindex"),
    ("serve", "anyseek.cli.serve"),
    ("models", "anyseek.cli.models"),
)

app = typer.Typer(
    name="anyseek",
    help="Find images by anything: caption, sketch, depth, segmentation or another image.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Read the settings once; every command gets them from ``ctx.obj``."""
    ctx.obj = load_settings()


for _name, _module in COMMAND_GROUPS:
    _group = importlib.import_module(_module)
    if isinstance(getattr(_group, "app", None), typer.Typer):
        app.add_typer(_group.app, name=_name)
    for _command in getattr(_group, "COMMANDS", ()):
        app.command()(_command)


#: help's word for an option's value by its Python type (typer's own tags, ``<int range>``,
#: ``<bool>``, read like code to a first-time user)
_VALUE_NAMES = {int: "N", float: "X", Path: "PATH", str: "TEXT"}


def _plain_value_name(param: typer.core._TyperParameter, ctx: object) -> str | None:
    """How help names an option's value: its metavar, N, X, PATH or TEXT; nothing for flags."""
    if param.metavar is not None:
        return param.metavar
    if getattr(param, "is_flag", False):
        return None
    annotation = param.type_descriptor.annotation
    many = typing.get_origin(annotation) is list
    inner = typing.get_args(annotation)[0] if many else annotation
    name = next(
        (v for t, v in _VALUE_NAMES.items() if isinstance(inner, type) and issubclass(inner, t)),
        "TEXT",
    )
    return f"{name} (repeatable)" if many else name  # not TEXT...: one value per --option


def _usage_name(param: typer.core.TyperArgument) -> str:
    """How the usage line names an argument: SOURCE, [SOURCE] when optional, never {source}."""
    name = (param.metavar or param.name or "arg").upper()
    name = name if param.required else f"[{name}]"
    return f"{name}..." if param.nargs != 1 else name


# every command's help, its arguments and --help too
typer.core.TyperOption.display_type_rich = _plain_value_name
typer.core.TyperArgument.display_type_rich = _plain_value_name
typer.core.TyperArgument._usage_display_name = _usage_name


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app and turn user-facing errors into one line, exit 1.

    Click's standalone mode reports usage errors, ``--help``, aborted prompts and ``typer.Exit``
    itself (as ``SystemExit``), whichever click Typer bundles; only our own errors reach here.
    """
    try:
        app(args=argv, prog_name="anyseek", standalone_mode=True)
    except AnyseekError as exc:
        typer.secho(f"error: {plain(exc)}", err=True, fg=typer.colors.RED)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
