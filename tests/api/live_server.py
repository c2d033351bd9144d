"""A prepared data directory served by a real ``anyseek serve`` process (tests/server_process.py),
for tests that must see what a client sees over HTTP (status, content type, body)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from api_helpers import prepare
from server_process import HTTP, process_env, served  # noqa: F401 (HTTP for the tests)

from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample


@dataclass
class Live:
    """A served data directory: the server's URL, its folders and the scenes' item ids."""

    url: str
    data_dir: Path
    allowed: Path  # the one allowed root of server-side indexing
    ids: list[int]


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a server on ``data_dir`` with ``settings`` (ANYSEEK_ names without the
    prefix)."""
    return process_env(data_dir, **{f"ANYSEEK_{key}": value for key, value in settings.items()})


def serve_scenes(
    folder: Path, model: SearchModel, scenes: list[SceneSample], **settings: str
) -> Iterator[Live]:
    """The scenes collection written as ``api_helpers.prepare`` writes it, then served by a
    ``python -m anyseek.cli serve`` process with the same settings until the fixture ends."""
    data_dir = folder / "data"
    _, database, store, ids = prepare(data_dir, model, scenes)
    store.close()  # the server process is the store's one writer
    database.dispose()
    allowed = data_dir / "allowed"
    allowed.mkdir(parents=True, exist_ok=True)
    env = server_env(
        data_dir,
        STORE__EXACT_THRESHOLD="100000",
        API__BATCH_WAIT_MS="1",
        INDEXER__ALLOWED_ROOTS=json.dumps([str(allowed)]),
        INDEXER__FLUSH_INTERVAL_S="0",
        **settings,
    )
    with served(env, folder / "serve.log") as url:
        yield Live(url, data_dir, allowed, ids)
