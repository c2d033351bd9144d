"""How many processes ``anyseek serve`` runs when ``--workers`` is not given: one per core, as
many as the memory holds, one where only one can work.

Every process loads the model and opens the store (``anyseek.api.readers``), so each costs the
model's weights, the store's vectors (a FAISS store is read into each process; a Qdrant server
holds its own) and the interpreter with torch. One process's Python work holds one core, so a
process per core is what serves the most searches (``bench/results/search.md``). One process
only: a model on a GPU (one copy of the weights in its memory), and Qdrant's local mode (its
folder is opened by one process at a time). The decision and its reason are logged at start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from anyseek.errors import SettingsError
from anyseek.settings import Settings

PROCESS_BASE_BYTES = 450 * 2**20  # interpreter, torch, FastAPI: a server's RSS less its model
MODEL_IN_MEMORY = 2.0  # weights in memory per byte on disk (16-bit files run in float32)
UNKNOWN_MODEL_BYTES = 2 * 2**30  # a model known only by name (a Hugging Face id): counted large
MEMORY_SHARE = 0.8  # of the memory available now, what the processes may take
MB = 2**20


@dataclass(frozen=True)
class ProcessPlan:
    """How many processes serve the port, and why (the log line)."""

    processes: int
    reason: str


def serving_processes(settings: Settings, workers: int | None) -> ProcessPlan:
    """``workers`` when given (checked against what can share a store), else one per core as
    the memory allows (:func:`default_processes`)."""
    single = single_process_reason(settings)
    if workers is not None:
        if workers > 1 and single is not None:
            raise SettingsError(f"--workers {workers}: {single}")
        return ProcessPlan(workers, f"{workers} process(es), as --workers/ANYSEEK_API__WORKERS")
    return default_processes(settings)


def single_process_reason(settings: Settings) -> str | None:
    """Why this configuration serves from one process only, or None."""
    store = settings.store
    if store.backend == "qdrant" and not store.qdrant_url:
        return (
            "Qdrant's local mode opens its folder in one process at a time; serve from several "
            "with a Qdrant server (ANYSEEK_STORE__QDRANT_URL)"
        )
    if settings.model.device.startswith("cuda"):
        return "the model runs on a GPU: one process keeps one copy of it in the GPU's memory"
    return None


def default_processes(
    settings: Settings, cores: int | None = None, available: int | None = None
) -> ProcessPlan:
    """One process per core (``cores``), fewer when their memory (model, store, interpreter)
    would pass :data:`MEMORY_SHARE` of ``available`` bytes, one when only one can work."""
    cores = cores or os.cpu_count() or 1
    single = single_process_reason(settings)
    if single is not None:
        return ProcessPlan(1, f"1 process: {single}")
    model, store = model_bytes(settings), store_bytes(settings)
    each = PROCESS_BASE_BYTES + int(model * MODEL_IN_MEMORY) + store
    available = available if available is not None else available_bytes()
    fit = max(1, int(available * MEMORY_SHARE) // each) if available else cores
    count = min(cores, fit)
    sizes = (
        f"each about {each / MB:,.0f} MB (model {model / MB:,.0f} MB on disk, store "
        f"{store / MB:,.0f} MB)"
    )
    if count < cores:
        return ProcessPlan(
            count,
            f"{count} process(es) for {cores} cores: the memory available "
            f"({available / MB:,.0f} MB) holds {fit}, {sizes}; set --workers to choose",
        )
    return ProcessPlan(count, f"{count} processes, one per core; {sizes}")


def model_bytes(settings: Settings) -> int:
    """The model's files on disk: the built-in bundle, a file or folder given, else (a name to
    download) counted as :data:`UNKNOWN_MODEL_BYTES`."""
    from anyseek.model.service import resolve_bundle_source

    path = resolve_bundle_source(settings.model.source)  # builtin: the committed bundle
    try:
        if path.exists():
            return _size(path)
    except OSError:
        pass
    return UNKNOWN_MODEL_BYTES


def store_bytes(settings: Settings) -> int:
    """What each process reads of the store: a FAISS folder's files (0 for a Qdrant server)."""
    if settings.store.backend != "faiss":
        return 0
    folder = Path(settings.store.path) if settings.store.path else settings.data_dir / "faiss"
    return _size(folder)


def available_bytes() -> int:
    """The memory available now (``MemAvailable``; 0 when unknown: no limit from memory)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (0 when absent)."""
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
