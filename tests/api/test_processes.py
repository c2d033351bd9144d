"""How many processes a plain ``anyseek serve`` runs: one per core as the memory allows, one
where only one can work, and ``--workers`` refused where processes cannot share the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from anyseek.api.processes import (
    MB,
    PROCESS_BASE_BYTES,
    default_processes,
    model_bytes,
    serving_processes,
    store_bytes,
)
from anyseek.errors import SettingsError
from anyseek.settings import load_settings


def test_one_process_per_core_when_the_memory_holds_them(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    plan = default_processes(settings, cores=4, available=64 * 1024 * MB)
    assert plan.processes == 4 and "one per core" in plan.reason


def test_fewer_processes_when_the_memory_would_not_hold_one_per_core(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    each = PROCESS_BASE_BYTES + 2 * model_bytes(settings)
    plan = default_processes(settings, cores=16, available=int(3 * each / 0.8) + 1)
    assert plan.processes == 3
    assert "holds 3" in plan.reason and "--workers" in plan.reason


def test_the_store_read_into_each_process_is_counted(tmp_path: Path) -> None:
    folder = tmp_path / "faiss"
    folder.mkdir()
    (folder / "vectors.bin").write_bytes(b"\0" * (3 * MB))
    settings = load_settings(data_dir=tmp_path, store={"path": str(folder)})
    assert store_bytes(settings) == 3 * MB
    assert model_bytes(settings) > 0  # the built-in bundle's files


def test_qdrant_local_mode_serves_from_one_process_and_refuses_more(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, store={"backend": "qdrant"})
    plan = serving_processes(settings, None)
    assert plan.processes == 1 and "QDRANT_URL" in plan.reason
    with pytest.raises(SettingsError, match="--workers 2: Qdrant's local mode"):
        serving_processes(settings, 2)
    assert serving_processes(settings, 1).processes == 1


def test_a_qdrant_server_and_given_workers_are_taken_as_they_are(tmp_path: Path) -> None:
    server = load_settings(
        data_dir=tmp_path, store={"backend": "qdrant", "qdrant_url": "http://127.0.0.1:6333"}
    )
    assert default_processes(server, cores=2, available=64 * 1024 * MB).processes == 2
    assert serving_processes(server, 3).processes == 3
