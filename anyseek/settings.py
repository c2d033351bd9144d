"""One typed settings object for the whole service, read from ``ANYSEEK_*`` variables at start-up.

Create it with :func:`load_settings` at an edge (CLI entry point, API lifespan, worker start) and
pass it down; nothing below the edges reads the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from anyseek.errors import SettingsError

ENV_PREFIX = "ANYSEEK_"
ENV_NESTED = "__"


#: The vector store backends: name -> ``module:Class`` of its
# ``anyseek.search.stores.VectorStore``. This is
#: the one entry a new backend adds: settings validate ``ANYSEEK_STORE__BACKEND`` against it and
#: ``anyseek.search.stores.open_store`` imports the class from it (named, not imported, here).
STORE_BACKENDS: dict[str, str] = {
    "faiss": "anyseek.search.stores.faiss_store:FaissStore",
    "qdrant": "anyseek.search.stores.qdrant_store:QdrantStore",
}


class ModelSettings(BaseModel):
    """Which any-to-any model to load and where to run it."""

    source: str = Field(
        default="builtin",
        description="'builtin', a .safetensors file, a checkpoint folder or a Hugging Face repo id",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="what gallery vectors are computed in: float32 (exact), bfloat16 (faster on "
        "a CPU with AVX-512 BF16 or AMX; docs/models.md gives its difference per family) or auto "
        "(bfloat16 only where a timed matmul shows it faster); recorded with the vectors",
    )
    batch_size: int = Field(default=32, ge=1, le=4096)
    tokenizers: str | None = Field(
        default=None,
        description="official 4M checkpoints: folder holding one folder per tokenizer, named like "
        "its Hugging Face repo (e.g. 4M_tokenizers_depth_8k_224-448); unset: fetched by repo id",
    )
    cache: str | None = Field(
        default=None,
        description="where downloaded weights go once (open_clip tags and hf-hub ids); a later "
        "load reads them from here without the network; default: <data_dir>/models",
    )
    memory_budget_mb: int = Field(
        default=8192,
        ge=0,
        description="weights of the models one process keeps loaded (each collection is searched "
        "with its own); past it the least recently used are evicted; 0 = no limit",
    )

    @model_validator(mode="after")
    def _precision_fits_dtype(self) -> ModelSettings:
        """A model loaded in bfloat16 or float16 computes its vectors in it: another precision
        asked for beside it is a contradiction, refused rather than silently ignored."""
        if self.dtype != "float32" and self.precision not in ("auto", self.dtype):
            raise ValueError(
                f"ANYSEEK_MODEL__PRECISION={self.precision} cannot hold with "
                f"ANYSEEK_MODEL__DTYPE={self.dtype}: the model computes everything in "
                f"{self.dtype}; unset one of them"
            )
        return self


class StoreSettings(BaseModel):
    """Which vector store holds the embeddings, and its tuning knobs."""

    backend: str = Field(default="faiss", description="one of STORE_BACKENDS")
    path: str | None = Field(
        default=None,
        description="folder of an embedded store (FAISS, Qdrant local mode) or ':memory:' for "
        "Qdrant in memory; default: <data_dir>/<backend>",
    )
    faiss_gpu: bool = Field(default=False, description="GPU indexes when faiss-gpu and CUDA exist")
    faiss_mmap: bool = Field(default=True, description="memory-map saved indexes when loading")
    exact_threshold: int = Field(default=50_000, ge=0, description="vectors before approximate")
    approximate: Literal["hnsw", "ivf_flat", "ivf_pq", "ivf_sq8"] = Field(
        default="ivf_flat",
        description="approximate index from exact_threshold on (docs/stores.md compares them)",
    )
    qdrant_url: str | None = Field(default=None, description="server URL; unset = local mode")
    qdrant_api_key: SecretStr | None = None
    qdrant_timeout: int = Field(default=10, ge=1, description="seconds per Qdrant request")
    qdrant_batch_size: int = Field(default=256, ge=1, le=65_536, description="points per upsert")
    hnsw_m: int = Field(default=32, ge=4, le=256)
    hnsw_ef_construct: int = Field(default=200, ge=8)
    hnsw_ef_search: int = Field(default=128, ge=8)
    ivf_nlist: int = Field(default=0, ge=0, description="IVF cells; 0 = about 4*sqrt(n)")
    ivf_nprobe: int = Field(default=32, ge=1, description="IVF cells visited per query")
    faiss_post_filter_share: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="FAISS: a filter matching at least this share of items is applied to an "
        "over-fetched unfiltered search (post-filter); a more selective one restricts the search "
        "to the matching ids (pre-filter); 1 = always pre-filter",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in STORE_BACKENDS:
            raise ValueError(f"{value!r} is not a store; choose one of {sorted(STORE_BACKENDS)}")
        return value


class ApiSettings(BaseModel):
    """HTTP service limits and access control."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    url: str | None = Field(
        default=None,
        description="the server `anyseek search` asks first (unset: the `anyseek serve` that "
        "serves the data directory, if one runs); with no server it loads the model itself",
    )
    api_keys: list[SecretStr] = Field(default_factory=list, description="empty = no auth")
    max_upload_mb: float = Field(default=20.0, gt=0)
    max_image_pixels: int = Field(
        default=40_000_000,
        gt=0,
        description="most pixels of one image decoded when indexing (a JPEG or HEIC counts at "
        "the reduced size it is decoded at)",
    )
    max_query_pixels: int = Field(
        default=8_000_000,
        gt=0,
        description="largest query image or array decoded (a search decodes it in the request; "
        "far below the indexing limit so one query cannot hold memory or time)",
    )
    query_decode_timeout_s: float = Field(
        default=5.0, gt=0, le=600, description="longest a search may spend decoding its files"
    )
    query_decode_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="threads decoding query files, beside the one thread that plans "
        "file-less queries and finishes every search, and the model's",
    )
    inference_threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="intra-op threads of the one thread that loads and runs the model (unset: "
        "torch's default, the cores or OMP_NUM_THREADS); every other thread of the server uses one",
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="processes serving the port (`anyseek serve --workers`): one writer (index "
        "jobs, the store's writes) and the rest readers that search and forward writes to it; "
        "one process's Python work holds one core, so unset means one per core, fewer when the "
        "model and store would not fit the memory, one with Qdrant's local mode or a GPU",
    )
    auth_reads: bool = Field(default=False, description="require a key for reads too")
    allow_open: bool = Field(
        default=False,
        description="serve with no API key on an address other than loopback (anyone who can "
        "reach the port may write); without it such a server refuses to start",
    )
    retry_after_s: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="the Retry-After header of every 503 (model loading, a dependency down): "
        "seconds a client should wait before it asks again",
    )
    batch_max: int = Field(default=16, ge=1, le=256, description="searches per model call; 1=off")
    batch_wait_ms: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description="extra wait for a batch to fill; 0: searches that arrive while one batch "
        "runs form the next (measured faster at 100k items, also under load)",
    )
    batch_join_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="longest a batch waits for searches that have arrived and are still being "
        "prepared (their files decoded), so they join it; 0: never; a search alone never waits",
    )


IMAGE_EXTENSIONS = (
    "jpg",
    "jpeg",
    "png",
    "webp",
    "bmp",
    "gif",
    "tif",
    "tiff",
    "heic",
    "heif",
    "avif",
)


MIN_VISIBILITY_S = 300
VISIBILITY_S_PER_IMAGE = 1.0


class IndexerSettings(BaseModel):
    """Bulk indexing: which files, how many at once, safety limits, and the worker transport."""

    allowed_roots: list[Path] = Field(
        default_factory=list, description="server-side folders indexing may read; empty = any"
    )
    include: list[str] = Field(
        default_factory=lambda: [f"*.{ext}" for ext in IMAGE_EXTENSIONS],
        description="file name globs indexed in folders (case-insensitive)",
    )
    exclude: list[str] = Field(default_factory=list, description="relative path globs skipped")
    chunk_size: int = Field(default=256, ge=1, le=100_000, description="items per task")
    decode_workers: int = Field(default=2, ge=1, le=256, description="decoding threads")
    prior_images: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="official 4M models: a collection's priors come from its first this many "
        "indexed images (the first chunk(s) staged)",
    )
    thumbnail_size: int = Field(default=256, ge=16, le=2048, description="longest side, px")
    reconstructions: bool = Field(
        default=True,
        description="models that reconstruct (MultiMAE): also write each item's predicted depth "
        "and segmentation PNGs beside its thumbnail (one more decoder pass per image)",
    )
    flush_interval_s: float = Field(
        default=5.0, ge=0, description="in-process: apply staged vectors to the store this often"
    )
    near_duplicate_threshold: float = Field(
        default=0.9,
        ge=0,
        le=1,
        description="a new image whose mean cosine over the spaces to an indexed item is at least "
        "this is linked as its near-duplicate (bench/results/near_duplicates.md); 0 = never; a "
        "collection's own threshold overrides it",
    )
    max_file_mb: float = Field(default=100.0, gt=0, description="larger files are failed")
    url_timeout_s: float = Field(default=10.0, gt=0, description="per URL download")
    file_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="longest one item's read and decode may take before it is failed, so one "
        "stuck file (a hung network mount) never holds a job",
    )
    url_max_mb: float = Field(default=50.0, gt=0, description="larger downloads are failed")
    visibility_timeout_s: int | None = Field(
        default=None,
        ge=1,
        description="Redis redelivery delay of a killed worker's chunk; unset = "
        "visibility_timeout (a few minutes, from chunk_size; docs/deploy.md)",
    )
    heartbeat_s: float = Field(
        default=10.0, gt=0, description="an in-process job's process beats this often"
    )
    heartbeat_stale_s: float = Field(
        default=120.0, gt=0, description="a running job without a beat this long is dead"
    )
    worker_max_memory_mb: int = Field(
        default=0, ge=0, description="restart a worker child above this RSS; 0 = never"
    )
    keep_versions: int = Field(
        default=2,
        ge=1,
        le=100,
        description="versions of a collection's vectors kept after a re-index switches, the "
        "current one included (2 = one to roll back to); older ones are dropped from the store",
    )
    reindex_batch: int = Field(
        default=64, ge=1, le=10_000, description="items re-embedded per step of a re-index"
    )

    @property
    def visibility_timeout(self) -> int:
        """Seconds before Redis redelivers an unacknowledged chunk: the setting, or
        ``chunk_size`` x 1 s (50x the measured worst rate of 20 ms per photo-sized image,
        bench/results/indexing.md) and at least 300 s: a killed worker's chunk waits minutes,
        not an hour, and a slow live chunk is not run twice."""
        if self.visibility_timeout_s is not None:
            return self.visibility_timeout_s
        return max(MIN_VISIBILITY_S, int(self.chunk_size * VISIBILITY_S_PER_IMAGE))


class WorkerSettings(BaseModel):
    """Celery workers: their queues, the lease a worker holds on its chunk, and the timeouts of
    their database sessions (PostgreSQL), so a frozen process never stops the others."""

    queue: str = Field(
        default="anyseek",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        description="queue name prefix: chunks go to <queue>.index, store writes to "
        "<queue>.writer; give each deployment sharing a broker its own (docs/deploy.md)",
    )
    chunk_lease_s: float = Field(
        default=15.0,
        ge=1,
        le=3600,
        description="a worker's claim on its chunk lasts this long unless renewed (every quarter "
        "of it); a chunk whose worker died or froze is sent again once its lease ran out",
    )
    lease_sweep_s: float = Field(
        default=5.0, gt=0, le=600, description="how often workers look for expired chunk leases"
    )
    lock_timeout_s: float = Field(
        default=5.0,
        ge=0,
        description="PostgreSQL lock_timeout of worker sessions: a row lock not granted in this "
        "long is an error, logged and retried; 0 = wait for ever",
    )
    statement_timeout_s: float = Field(
        default=300.0, ge=0, description="PostgreSQL statement_timeout of worker sessions; 0 = none"
    )
    idle_in_transaction_timeout_s: float = Field(
        default=10.0,
        ge=0,
        description="PostgreSQL idle_in_transaction_session_timeout of worker sessions: the "
        "database ends the session (and frees its locks) of a process frozen mid-transaction; "
        "0 = never",
    )


class SearchSettings(BaseModel):
    """How search gathers candidates from the store, fuses them, and its limits."""

    candidate_factor: int = Field(default=4, ge=1, le=100, description="k' = factor * (k+offset)")
    min_candidates: int = Field(default=50, ge=1, le=10_000, description="smallest k' per space")
    max_k: int = Field(default=1000, ge=1, le=10_000, description="largest k of one page")
    max_window: int = Field(default=5000, ge=1, le=10_000, description="largest offset + k")
    fusion: Literal["information", "rrf"] = "information"
    combine: Literal["guidance", "fusion"] = Field(
        default="fusion",
        description="how weighted query parts combine (bench/results/search_history.md)",
    )
    rrf_k: int = Field(default=60, ge=1, description="rank offset of reciprocal-rank fusion")
    cursor_key: SecretStr = Field(
        default=SecretStr("anyseek-cursor"),
        description="HMAC key signing paging cursors; set one secret value on every API server",
    )


class Settings(BaseSettings):
    """Everything configurable in anyseek; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED,
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(default=Path.home() / ".anyseek")
    database_url: str | None = Field(default=None, description="default: SQLite under data_dir")
    broker_url: str = Field(default="", description="empty = index in-process, no workers")
    result_backend: str = ""
    model: ModelSettings = Field(default_factory=ModelSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    indexer: IndexerSettings = Field(default_factory=IndexerSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _model_cache(self) -> Settings:
        """Downloaded weights go under the data directory unless ANYSEEK_MODEL__CACHE says."""
        if self.model.cache is None:
            self.model = self.model.model_copy(update={"cache": str(self.data_dir / "models")})
        return self

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'anyseek.db'}"

    @property
    def effective_store(self) -> StoreSettings:
        """The store settings with ``path`` defaulting to ``<data_dir>/<backend>``."""
        if self.store.path is not None:
            return self.store
        return self.store.model_copy(update={"path": str(self.data_dir / self.store.backend)})


def env_name(loc: tuple[str | int, ...]) -> str:
    """The environment variable that sets the field at ``loc`` (e.g. ``ANYSEEK_STORE__BACKEND``)."""
    return ENV_PREFIX + ENV_NESTED.join(str(part).upper() for part in loc)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (plus explicit overrides), naming the bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{env_name(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from None
    except PydanticSettingsError as exc:  # a list/dict variable that is not JSON
        culprits = [name for name in json_variables(Settings) if not _is_json(os.environ.get(name))]
        where = ", ".join(culprits) or "ANYSEEK_*"
        raise SettingsError(
            f'invalid settings: {where}: must be JSON, e.g. \'["a", "b"]\' ({exc.__cause__ or exc})'
        ) from None


def json_variables(model: type[BaseModel], loc: tuple[str, ...] = ()) -> Iterator[str]:
    """The variables whose values are parsed as JSON: list, set, tuple and dict fields."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
        for candidate in options or (annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                yield from json_variables(candidate, (*loc, name))
                break
            if get_origin(candidate) in (list, set, tuple, dict):
                yield env_name((*loc, name))
                break


def _is_json(value: str | None) -> bool:
    """Whether an (unset or) set variable holds valid JSON."""
    if value is None:
        return True
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def masked(settings: Settings) -> dict[str, object]:
    """The effective settings as plain data with secrets masked, for ``anyseek config show``."""
    data = settings.model_dump(mode="json")
    data["database_url"] = _mask_url(settings.effective_database_url)
    data["broker_url"] = _mask_url(settings.broker_url)
    data["result_backend"] = _mask_url(settings.result_backend)
    data["store"]["path"] = settings.effective_store.path
    return data


def _mask_url(url: str) -> str:
    """Hide the password part of ``scheme://user:password@host``."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:**********@{host}" if ":" in creds else url
