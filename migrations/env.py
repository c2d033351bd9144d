"""Alembic environment: runs migrations on the engine anyseek hands over, or on the settings' URL.

``anyseek db upgrade`` passes its engine in ``config.attributes["engine"]``. The plain
``alembic -c migrations/alembic.ini ...`` command gets the URL from ``-x url=...`` or, failing
that, from the ``ANYSEEK_*`` settings, exactly as the CLI would.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Literal

from alembic import context
from sqlalchemy import Engine

from anyseek.db.models import Base, UtcDateTime
from anyseek.db.session import make_engine

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:  # the plain alembic command: log what it does
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    """For the plain alembic command: ``-x url=...``, else the database the settings name."""
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url is None:
        from anyseek.settings import load_settings  # an edge: the alembic command itself

        url = load_settings().effective_database_url
    return url


def _render_item(type_: str, obj: object, autogen_context: object) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types so scripts never import app code."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: object) -> None:
    """Options shared by online and offline runs."""
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode recreates the table
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
        **kwargs,
    )


def run_offline() -> None:
    """Emit SQL for review instead of running it (``alembic upgrade head --sql``)."""
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on a live connection, in one transaction where the database allows."""
    handed_over: Engine | None = config.attributes.get("engine")
    engine = handed_over or make_engine(_url(), create_dirs=True)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        if handed_over is None:
            engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
