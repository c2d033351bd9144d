"""``anyseek db``: create or migrate the metadata database and show its schema revision."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from anyseek.cli.context import settings_of

if TYPE_CHECKING:  # SQLAlchemy and Alembic load when a db command runs, not for every command
    from anyseek.db import migrate

app = typer.Typer(help="Create, migrate and inspect the metadata database.", no_args_is_help=True)


def _status(state: migrate.SchemaState) -> str:
    """Where the database is and what to do, e.g. ``0001 (up to date)``."""
    from anyseek.db import migrate

    if state.is_current:
        return f"{state.current} (up to date)"
    if state.current is None:
        return f"not initialised: {migrate.UPGRADE_HINT}"
    if state.current not in migrate.known_revisions():
        return f"{state.current}, unknown to this version of anyseek (it expects {state.head})"
    return f"{state.current}, older than {state.head}: {migrate.UPGRADE_HINT}"


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Argument("head", help="target revision; 'head' is the newest"),
) -> None:
    """Create the database or migrate it up to REVISION (default: the newest)."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for, display_url

    database = database_for(settings_of(ctx), create_dirs=True)
    try:
        before = migrate.schema_state(database)
        after = migrate.upgrade(database, revision)
    finally:
        database.dispose()
    where = display_url(database.engine.url)
    if before.current == after.current:
        typer.echo(f"database {where} already at {_status(after)}")
    else:
        typer.echo(f"database {where} upgraded from {before.current or 'empty'} to {after.current}")


@app.command("downgrade", context_settings={"ignore_unknown_options": True})  # -1: a revision
def downgrade(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="target revision, '-1' for one step, 'base' for none"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask before dropping data"),
) -> None:
    """Migrate the database down to REVISION; 'base' drops every anyseek table."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for, display_url

    database = database_for(settings_of(ctx))
    try:
        before = migrate.schema_state(database)
        if before.current is None:
            typer.echo(f"database {display_url(database.engine.url)} is not initialised")
            return
        if not yes:
            typer.confirm(
                f"Downgrading {display_url(database.engine.url)} to {revision} can drop tables "
                "and their data. Continue?",
                abort=True,
            )
        after = migrate.downgrade(database, revision)
    finally:
        database.dispose()
    typer.echo(f"database downgraded from {before.current} to {after.current or 'base'}")


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Show the database's schema revision and whether it is up to date."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for, display_url

    database = database_for(settings_of(ctx))
    try:
        state = migrate.schema_state(database)
    finally:
        database.dispose()
    typer.echo(f"database {display_url(database.engine.url)}: {_status(state)}")
