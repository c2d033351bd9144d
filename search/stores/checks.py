"""What a vector store accepts, and the checks every backend runs on its input before anything
changes: names, spaces, ids, ``k``, vectors and payloads. A bad input is an ``InvalidInputError``
whose message names the problem, so every backend rejects the same things the same way."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from anyseek.errors import AnyseekError, NotFoundError, at_field

Metric = Literal["cosine", "dot"]
Payload = dict[str, Any]

MAX_K = 10_000
"""Largest ``k`` a search accepts: beyond it the caller wants an export, not a search."""
MAX_ID = 2**63 - 1
"""Ids are non-negative signed 64-bit integers, which both FAISS and Qdrant can hold."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")  # '@': version names (name@v2)


class InvalidInputError(AnyseekError, ValueError):
    """Vectors, ids, k or a filter that a store cannot accept (wrong shape, NaN, duplicates...)."""


class SpaceMismatchError(AnyseekError):
    """A collection exists with spaces that differ from the ones asked for."""


def check_name(kind: str, name: str) -> str:
    """A collection or space name that is safe as a file name and a Qdrant name."""
    if not isinstance(name, str) or not _NAME.match(name):
        invalid = InvalidInputError(
            f"invalid {kind} name {name!r}: use 1-128 letters, digits, '_', '-', '.' or '@', "
            "starting with a letter or digit"
        )
        raise at_field(invalid, "name" if kind == "collection" else "spaces")
    return name


@dataclass(frozen=True)
class SpaceSpec:
    """One embedding space of a collection: its name, vector dimension and similarity metric."""

    name: str
    dim: int
    metric: Metric = "cosine"

    def __post_init__(self) -> None:
        check_name("space", self.name)
        if not isinstance(self.dim, int) or not 1 <= self.dim <= 65_536:
            raise InvalidInputError(f"space {self.name!r}: dim must be 1..65536, got {self.dim!r}")
        if self.metric not in ("cosine", "dot"):
            raise InvalidInputError(
                f"space {self.name!r}: metric must be 'cosine' or 'dot', got {self.metric!r}"
            )


@dataclass(frozen=True)
class UpsertBatch:
    """A validated upsert: distinct ids, their prepared rows per space, one payload per id."""

    ids: np.ndarray  # [n] int64
    vectors: dict[str, np.ndarray]  # space -> [n, dim] float32
    payloads: list[Payload]


def space_of(spaces: Iterable[SpaceSpec], collection: str, name: str) -> SpaceSpec:
    """The named space of a collection, or a NotFoundError listing the ones that exist."""
    spaces = tuple(spaces)
    for space in spaces:
        if space.name == name:
            return space
    names = ", ".join(sorted(s.name for s in spaces))
    raise NotFoundError(f"collection {collection!r} has no space {name!r} (spaces: {names})")


def check_spaces(spaces: Sequence[SpaceSpec]) -> tuple[SpaceSpec, ...]:
    """A non-empty tuple of specs with distinct names."""
    spaces = tuple(spaces)
    if not spaces or not all(isinstance(s, SpaceSpec) for s in spaces):
        raise InvalidInputError("a collection needs at least one SpaceSpec")
    names = [s.name for s in spaces]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"space names must be distinct, got {names}")
    return spaces


def describe_spaces(spaces: Iterable[SpaceSpec]) -> str:
    """Spaces as ``name(dim, metric)`` for error messages."""
    return ", ".join(f"{s.name}({s.dim}, {s.metric})" for s in sorted(spaces, key=lambda s: s.name))


def check_ids(ids: Sequence[int] | np.ndarray, unique: bool = True) -> np.ndarray:
    """Ids as an int64 array, each in 0..2**63-1, distinct when ``unique``."""
    try:
        array = np.asarray(ids)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"ids must be a list of integers: {exc}") from None
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InvalidInputError("ids must be a flat list of integers")
    if array.size and (array.min() < 0 or array.max() > MAX_ID):
        raise InvalidInputError(f"ids must be between 0 and {MAX_ID}")
    array = array.astype(np.int64, copy=False)
    if unique and len(np.unique(array)) != len(array):
        values, counts = np.unique(array, return_counts=True)
        raise InvalidInputError(f"duplicate ids in one upsert: {values[counts > 1][:5].tolist()}")
    return array


def check_k(k: int) -> int:
    """``k`` between 1 and MAX_K."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
    return int(k)


def prepare_vectors(space: SpaceSpec, vectors: np.ndarray, rows: int | None = None) -> np.ndarray:
    """A C-contiguous float32 (n, dim) matrix, finite, L2-normalised for cosine spaces."""
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"space {space.name!r}: vectors are not numeric: {exc}") from None
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] != space.dim:
        raise InvalidInputError(
            f"space {space.name!r} expects vectors of dimension {space.dim}, got shape "
            f"{tuple(np.shape(vectors))}"
        )
    if rows is not None and matrix.shape[0] != rows:
        raise InvalidInputError(f"space {space.name!r}: {matrix.shape[0]} vectors for {rows} ids")
    # one pass: a row's squared norm (in float64, so big finite values cannot overflow) is finite
    # exactly when every value in the row is
    squares = np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64)
    if not np.isfinite(squares).all():
        bad = int(np.flatnonzero(~np.isfinite(squares))[0])
        raise InvalidInputError(f"space {space.name!r}: vector {bad} contains NaN or infinity")
    if space.metric == "cosine":
        if not squares.all():
            bad = int(np.flatnonzero(squares == 0)[0])
            raise InvalidInputError(
                f"space {space.name!r}: vector {bad} is all zeros and has no direction"
            )
        matrix = matrix / np.sqrt(squares).astype(np.float32)[:, None]
    return np.ascontiguousarray(matrix, dtype=np.float32)


def check_payloads(payloads: Sequence[Payload] | None, rows: int) -> list[Payload]:
    """One JSON-object payload per id (empty when none are given)."""
    if payloads is None:
        return [{} for _ in range(rows)]
    payloads = list(payloads)
    if len(payloads) != rows:
        raise InvalidInputError(f"{len(payloads)} payloads for {rows} ids")
    for payload in payloads:
        if not isinstance(payload, dict) or not all(isinstance(key, str) for key in payload):
            raise InvalidInputError("each payload must be a dict with string keys")
        try:  # plain JSON only, so every backend stores and returns exactly the same thing
            json.dumps(payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"payload is not plain JSON: {exc}") from None
    return payloads


def check_metadata_update(
    ids: Sequence[int], metadata: Sequence[Mapping[str, Any]]
) -> tuple[np.ndarray, list[Payload]]:
    """Ids and one plain-JSON metadata object each, for :meth:`VectorStore.set_metadata`."""
    id_array = check_ids(ids)
    return id_array, check_payloads([dict(m) for m in metadata], len(id_array))


def check_upsert(
    spaces: Sequence[SpaceSpec],
    collection: str,
    ids: Sequence[int],
    vectors: Mapping[str, np.ndarray],
    payloads: Sequence[Payload] | None,
) -> UpsertBatch:
    """Validate a whole upsert before anything is written, so a bad batch changes nothing."""
    id_array = check_ids(ids)
    if not vectors:
        raise InvalidInputError("an upsert needs vectors for at least one space")
    prepared = {
        name: prepare_vectors(space_of(spaces, collection, name), matrix, rows=len(id_array))
        for name, matrix in vectors.items()
    }
    return UpsertBatch(id_array, prepared, check_payloads(payloads, len(id_array)))
