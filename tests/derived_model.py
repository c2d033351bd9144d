"""Another model for version tests: a copy of the built-in bundle with perturbed weights.

Its spaces have the same names and sizes as the built-in model's, so only the recorded model
identity (name and content hash) tells their vectors apart, which is what the tests need.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from anyseek.db.migrate import open_database
from anyseek.indexer.reindex import run_reindex, start_reindex
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.stores import open_store
from anyseek.settings import Settings

BUILTIN = Path(__file__).resolve().parents[1] / "model" / "builtin" / "weights"


def perturb_weights(bundle: Path, seed: int, scale: float = 0.05) -> None:
    """Add seeded relative noise to every floating-point weight of the bundle's network."""
    path = bundle / "model.safetensors"
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and tensor.numel() > 1:
            noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float32)
            tensors[name] = (tensor.float() * (1 + scale * noise)).to(tensor.dtype)
    save_file(tensors, str(path), metadata=metadata)


def derived_bundle(folder: Path, seed: int = 1) -> Path:
    """A copy of the built-in bundle in ``folder`` whose network weights are perturbed."""
    target = folder / "derived-model"
    shutil.copytree(BUILTIN, target)
    perturb_weights(target, seed)
    return target


def reindex_in_process(settings: Settings, model, collection: str, source: str) -> None:
    """The reference: the same re-index run here (the store's writer while no worker runs)."""
    database, store = open_database(settings), open_store(settings)
    try:
        registry = ModelRegistry(settings.model, default=model)
        with database.session() as session:
            job_id, _ = start_reindex(session, collection, registry.get(source), source)
        assert run_reindex(settings, database, store, job_id, registry.get).status == "succeeded"
    finally:
        store.close()
        database.dispose()
