"""``anyseek reindex``: the top-level command (defined with the versions commands)."""

from __future__ import annotations

from anyseek.cli.versions import reindex

COMMANDS = (reindex,)
