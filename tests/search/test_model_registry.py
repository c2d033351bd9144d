"""Several models in one process: loaded once per source, least recently used evicted past the
memory budget, the default model pinned."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from derived_model import derived_bundle

from anyseek.search.model_registry import ModelRegistry, model_bytes
from anyseek.settings import ModelSettings


def test_models_load_once_per_source_and_the_least_recent_is_evicted(
    search_model, tmp_path: Path
) -> None:
    first = str(derived_bundle(tmp_path / "a", seed=1))
    second = str(derived_bundle(tmp_path / "b", seed=2))
    size = model_bytes(search_model)
    assert size > 1_000_000  # the built-in model's weights are counted
    budget_mb = (2 * size) // (1024 * 1024) + 1  # room for two models, not three
    registry = ModelRegistry(
        ModelSettings(device="cpu", memory_budget_mb=budget_mb), default=search_model
    )

    with ThreadPoolExecutor(4) as pool:  # concurrent first uses share one load
        loaded = list(pool.map(registry.get, [first] * 4))
    assert all(model is loaded[0] for model in loaded)
    assert loaded[0].version != search_model.version  # another model: another content hash
    assert registry.get(None) is search_model

    registry.get(second)

    assert registry.loaded() == ["builtin", second]  # the first evicted, the default pinned
    assert registry.get(first) is not loaded[0]  # loaded again when needed again
