"""docs/deploy.md's table of Celery settings names every setting ``celery_config`` gives Celery,
so a setting added to the app cannot go unexplained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anyseek.settings import load_settings
from anyseek.workers.app import celery_config

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
TABLE = "## Celery settings, and why"


def table_names() -> set[str]:
    """Every name in backticks in the first column of the Celery settings table."""
    text = DEPLOY.read_text()
    section = text[text.index(TABLE) :].split("\n## ", 1)[0]
    first_columns = [line.split("|")[1] for line in section.splitlines() if line.startswith("| ")]
    return {name for cell in first_columns for name in re.findall(r"`([^`]+)`", cell)}


@pytest.mark.parametrize("broker", ["redis://127.0.0.1:6379/0", "amqp://guest:guest@127.0.0.1//"])
def test_every_celery_setting_has_a_row(broker: str) -> None:
    config = celery_config(load_settings(broker_url=broker))
    options = config["broker_transport_options"]
    assert isinstance(options, dict)
    named = table_names()
    missing = sorted((set(config) | set(options)) - named)
    assert not missing, f"docs/deploy.md's Celery settings table has no row for {missing}"


def test_the_table_is_read() -> None:
    """The parser finds the rows it checks (a renamed heading would empty it)."""
    assert {"task_acks_late", "broker_transport", "socket_timeout"} <= table_names()
