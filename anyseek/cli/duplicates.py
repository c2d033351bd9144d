"""``anyseek duplicates COLLECTION``: the near-duplicate groups the indexer recorded."""

from __future__ import annotations

import dataclasses
import json

import typer

from anyseek.cli.database import checked_database
from anyseek.db.duplicates import duplicate_groups


def duplicates(
    ctx: typer.Context,
    collection: str = typer.Argument(..., help="collection to list"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of text"),
) -> None:
    """Print COLLECTION's near-duplicate groups: each first item, then its copies."""
    with checked_database(ctx) as database, database.session() as session:
        groups = duplicate_groups(session, collection)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(g) for g in groups], indent=2))
        return
    if not groups:
        typer.echo(f"no near-duplicates in {collection!r}")
        return
    for group in groups:
        typer.echo(f"{group.original.id}  {group.original.source_uri}")
        for copy in group.duplicates:
            typer.echo(f"  {copy.id}  {copy.similarity:.4f}  {copy.source_uri}")
    copies = sum(len(g.duplicates) for g in groups)
    typer.echo(f"{len(groups)} groups, {copies} near-duplicates", err=True)


COMMANDS = (duplicates,)
