"""``anyseek export COLLECTION``: every indexed item with its vectors, as JSON lines or Parquet."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from anyseek.cli.context import settings_of
from anyseek.cli.database import checked_database
from anyseek.errors import AnyseekError


def export(
    ctx: typer.Context,
    collection: str = typer.Argument(..., help="collection to export"),
    format: str = typer.Option("jsonl", "--format", "-f", help="jsonl or parquet"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="file to write (default: COLLECTION.FORMAT; '-' = stdout, jsonl)"
    ),
) -> None:
    """Export COLLECTION: ids, paths, payloads, metadata, each space's vector, the model version."""
    from anyseek.search.export import FORMATS, export_records, jsonl_lines, write_export
    from anyseek.search.stores import open_store

    if format not in FORMATS:
        raise AnyseekError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    target = out if out is not None else Path(f"{collection}.{format}")
    if str(target) == "-" and format != "jsonl":
        raise AnyseekError("only --format jsonl can be written to stdout; give --out FILE")
    with checked_database(ctx) as database, open_store(settings_of(ctx)) as store:
        records = export_records(database, store, collection)
        if str(target) == "-":
            for line in jsonl_lines(records):
                sys.stdout.write(line)
            return
        count = write_export(records, target, format)  # type: ignore[arg-type]
    typer.echo(f"exported {count} items of {collection!r} to {target}", err=True)


COMMANDS = (export,)
