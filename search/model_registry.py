"""Several search models in one process: loaded lazily by source, evicted by a memory budget.

Each collection is searched with the model that made its vectors (``search.versions``); a server
may so hold the built-in model for one collection and an official 4M checkpoint for another. A
model is loaded on first use, once (concurrent first uses wait for the same load), and the least
recently used ones are dropped when the loaded weights pass ``ANYSEEK_MODEL__MEMORY_BUDGET_MB``;
the default model (``ANYSEEK_MODEL__SOURCE``) is pinned.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import torch

from anyseek.model.service import SearchModel, load_search_model, model_identity
from anyseek.settings import ModelSettings

Loader = Callable[[ModelSettings], SearchModel]
MB = 1024 * 1024


def model_bytes(model: SearchModel) -> int:
    """Bytes of the weights a loaded model holds (parameters and buffers of its torch modules,
    found among its attributes and theirs; shared tensors counted once)."""
    modules: dict[int, torch.nn.Module] = {}
    stack: list[tuple[object, int]] = [(model, 0)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, torch.nn.Module):
            modules[id(obj)] = obj
            continue
        if depth < 3 and hasattr(obj, "__dict__"):
            stack.extend((value, depth + 1) for value in vars(obj).values())
    seen: set[int] = set()
    total = 0
    for module in modules.values():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.data_ptr() not in seen:
                seen.add(tensor.data_ptr())
                total += tensor.numel() * tensor.element_size()
    return total


class ModelRegistry:
    """``registry.get(source)`` -> the loaded model of that source; thread-safe, LRU-evicted."""

    def __init__(
        self,
        settings: ModelSettings,
        *,
        default: SearchModel | None = None,
        loader: Loader = load_search_model,
    ) -> None:
        self.settings = settings
        self.loader = loader
        self.budget = settings.memory_budget_mb * MB
        self._models: OrderedDict[str, tuple[SearchModel, int]] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        if default is not None:
            self._models[settings.source] = (default, model_bytes(default))

    @property
    def default(self) -> SearchModel:
        """The model of ``ANYSEEK_MODEL__SOURCE`` (new collections are indexed with it)."""
        return self.get(self.settings.source)

    def loaded(self) -> list[str]:
        """Sources of the models held now, least recently used first."""
        with self._lock:
            return list(self._models)

    def source_of(self, given: str) -> str:
        """The source to load for ``given``: the source of the loaded model whose identity
        (``name@digest``, as versions and collections show it) it is, else ``given`` itself."""
        with self._lock:
            for source, (model, _) in self._models.items():
                if given == str(model_identity(model)):
                    return source
        return given

    def get(self, source: str | None) -> SearchModel:
        """The model loaded from ``source`` (None: the default), loading it on first use."""
        source = source or self.settings.source
        with self._lock:
            if source in self._models:
                self._models.move_to_end(source)
                return self._models[source][0]
            gate = self._loading.setdefault(source, threading.Lock())
        with gate:  # one load per source, outside the registry lock
            with self._lock:
                if source in self._models:
                    return self._models[source][0]
            model = self.loader(self.settings.model_copy(update={"source": source}))
            with self._lock:
                self._models[source] = (model, model_bytes(model))
                self._evict()
                self._loading.pop(source, None)
            return model

    def _evict(self) -> None:
        """Drop least recently used models (never the default nor the newest) over budget."""
        if not self.budget:
            return
        while sum(size for _, size in self._models.values()) > self.budget:
            victims = [s for s in list(self._models)[:-1] if s != self.settings.source]
            if not victims:
                return
            del self._models[victims[0]]
