"""Plain-text output helpers shared by commands: aligned tables that read well and grep well."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import typer


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, header first."""
    cells = [[str(h) for h in headers], *[[_cell(value) for value in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print :func:`render_table`."""
    typer.echo(render_table(headers, rows))


def _cell(value: object) -> str:
    """How one value is shown: times to the second in UTC, absent values as '-'."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)
