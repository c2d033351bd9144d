"""QdrantStore beyond the shared contract: an unreachable server and a folder already in use."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest

from anyseek.errors import ServiceUnavailableError
from anyseek.search.stores.base import SpaceSpec
from anyseek.search.stores.qdrant_store import QdrantStore
from anyseek.settings import StoreSettings


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_is_a_clear_error_and_not_ready() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    store = QdrantStore(StoreSettings(qdrant_url=url, qdrant_timeout=2))  # connects lazily
    health = store.health()
    assert not health.ready and not store.ready()
    assert "not reachable" in health.detail and url in health.detail
    with pytest.raises(ServiceUnavailableError, match=f"Qdrant at {url} is not reachable"):
        store.ensure_collection("c", [SpaceSpec("v", 4)])
    with pytest.raises(ServiceUnavailableError, match="not reachable"):
        store.search("c", "v", np.ones(4))
    assert time.monotonic() - started < 10  # refused connections fail fast, no retry storm


def test_local_folder_in_use_is_a_clear_error(tmp_path: Path) -> None:
    first = QdrantStore(StoreSettings(path=str(tmp_path)))
    first.ensure_collection("c", [SpaceSpec("v", 4)])
    with pytest.raises(ServiceUnavailableError, match="cannot open Qdrant local"):
        QdrantStore(StoreSettings(path=str(tmp_path)))
    first.close()
    second = QdrantStore(StoreSettings(path=str(tmp_path)))  # released on close
    assert second.collections() == ["c"]
    second.close()
