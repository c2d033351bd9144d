"""One behaviour for every vector store: the same suite runs against each backend.

Backends: FaissStore (a temporary folder), QdrantStore in local mode in memory and on disk. Results
are checked against brute-force numpy search, and FAISS against Qdrant (congruence).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from anyseek.errors import NotFoundError
from anyseek.search.stores import (
    BACKENDS,
    MAX_K,
    Filter,
    InvalidInputError,
    Range,
    SpaceMismatchError,
    SpaceSpec,
    backend_class,
)
from anyseek.search.stores.base import DateRange, VectorStore
from anyseek.settings import StoreSettings

SPACES = (SpaceSpec("clip", 32), SpaceSpec("dino", 48), SpaceSpec("raw", 16, "dot"))
N = 300
TAGS = ("cat", "dog", "car")


#: every registered backend on disk (a new backend is covered by being registered), plus
#: in-memory variants of backends that have one
PERSISTENT = sorted(BACKENDS)
IN_MEMORY = {"qdrant-memory": "qdrant"}
VARIANTS = PERSISTENT + sorted(IN_MEMORY)


def _open(variant: str, folder: Path) -> VectorStore:
    """A store of the named variant rooted in ``folder`` (reopening the same folder reloads it)."""
    backend = IN_MEMORY.get(variant, variant)
    path = ":memory:" if variant in IN_MEMORY else str(folder / backend)
    settings = StoreSettings(backend=backend, path=path, exact_threshold=100_000)
    return backend_class(backend)(settings)


@pytest.fixture(params=VARIANTS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """An open store of each backend with an empty collection ``c``."""
    opened = _open(request.param, tmp_path)
    opened.ensure_collection("c", SPACES)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    """Clustered random vectors per space (clusters make near-ties unlikely to matter)."""
    rng = np.random.default_rng(7)
    out = {}
    for spec in SPACES:
        centres = rng.normal(size=(8, spec.dim))
        out[spec.name] = (centres[rng.integers(0, 8, N)] + rng.normal(size=(N, spec.dim))).astype(
            np.float32
        )
    return out


def _payloads() -> list[dict]:
    return [
        {
            "tag": TAGS[i % 3],
            "n": i,
            "size": i % 4 * 0.75,
            "even": i % 2 == 0,
            "labels": [f"l{i % 5}", f"m{i % 7}"],
        }
        for i in range(N)
    ]


def _fill(store: VectorStore, data: dict[str, np.ndarray]) -> np.ndarray:
    ids = np.arange(N, dtype=np.int64) * 1_000_003 + 5  # sparse, large ids
    store.upsert("c", ids, data, _payloads())
    return ids


def _normed(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _brute(
    vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int, cosine: bool = True
) -> tuple[list[int], np.ndarray]:
    """Exact top-k ids and scores by numpy."""
    base = _normed(vectors) if cosine else vectors
    q = _normed(query) if cosine else query
    scores = base @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return ids[order].tolist(), scores[order]


# --- collections ---------------------------------------------------------------------------


def test_ensure_collection_is_idempotent_and_checks_spaces(store: VectorStore) -> None:
    store.ensure_collection("c", list(reversed(SPACES)))  # same spaces, other order: fine
    assert "c" in store.collections()
    assert set(store.spaces("c")) == set(SPACES)
    with pytest.raises(SpaceMismatchError, match="exists with spaces"):
        store.ensure_collection("c", [SpaceSpec("clip", 64)])
    with pytest.raises(NotFoundError):
        store.spaces("missing")
    with pytest.raises(InvalidInputError, match="collection name"):
        store.ensure_collection("../evil", SPACES)


def test_drop_removes_the_collection(store: VectorStore, data) -> None:
    _fill(store, data)
    store.drop("c")
    store.drop("c")  # unknown: ignored
    assert "c" not in store.collections()
    with pytest.raises(NotFoundError):
        store.count("c")


def test_a_version_is_a_collection_and_an_alias_moves_atomically_between_them(
    store: VectorStore, data
) -> None:
    _fill(store, data)
    store.ensure_collection("c@v2", SPACES[:1])
    store.upsert("c@v2", [7], {"clip": data["clip"][:1]})
    assert store.alias_target("c@current") is None
    store.set_alias("c@current", "c")
    assert store.alias_target("c@current") == "c"
    store.set_alias("c@current", "c@v2")  # moved: one target at any time
    assert store.alias_target("c@current") == "c@v2"
    assert (store.count("c"), store.count("c@v2")) == (N, 1)  # versions apart
    assert "c@current" not in store.collections()
    store.delete_alias("c@current")
    store.delete_alias("c@current")  # unknown: ignored
    assert store.alias_target("c@current") is None
    assert store.count("c@v2") == 1


@pytest.mark.parametrize("backend", PERSISTENT)
def test_an_alias_survives_reopening(backend: str, tmp_path: Path) -> None:
    first = _open(backend, tmp_path)
    first.ensure_collection("c@v3", SPACES)
    first.set_alias("c@current", "c@v3")
    first.close()
    second = _open(backend, tmp_path)
    assert second.alias_target("c@current") == "c@v3"
    second.close()


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize("space", [s.name for s in SPACES])
def test_search_matches_brute_force(store: VectorStore, data, space: str) -> None:
    ids = _fill(store, data)
    cosine = next(s for s in SPACES if s.name == space).metric == "cosine"
    queries = data[space][:5] + 0.1
    results = store.search("c", space, queries, k=10)
    assert len(results) == 5
    for query, result in zip(queries, results, strict=True):
        want_ids, want_scores = _brute(data[space], ids, query, 10, cosine)
        assert result.ids == want_ids
        np.testing.assert_allclose(
            [h.score for h in result.hits], want_scores, rtol=1e-4, atol=1e-4
        )
        assert result.hits[0].payload == _payloads()[int(np.flatnonzero(ids == want_ids[0])[0])]


def test_single_query_and_self_match(store: VectorStore, data) -> None:
    ids = _fill(store, data)
    [result] = store.search("c", "clip", data["clip"][17], k=1)
    assert result.ids == [ids[17]]
    assert result.hits[0].score == pytest.approx(1.0, abs=1e-5)  # cosine of a vector with itself


def test_search_several_spaces_at_once(store: VectorStore, data) -> None:
    ids = _fill(store, data)
    found = store.search_spaces("c", {"clip": data["clip"][:2], "dino": data["dino"][2]}, k=3)
    assert set(found) == {"clip", "dino"}
    assert [r.ids[0] for r in found["clip"]] == [ids[0], ids[1]]
    assert found["dino"][0].ids[0] == ids[2]


def test_k_larger_than_collection_returns_everything(store: VectorStore, data) -> None:
    ids = _fill(store, data)
    [result] = store.search("c", "clip", data["clip"][0], k=N + 50)
    assert sorted(result.ids) == sorted(ids.tolist())
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)


def test_nearest_ids_find_stored_items_and_skip_deleted_ones(store: VectorStore, data) -> None:
    ids = _fill(store, data)
    store.delete("c", ids[:2].tolist())
    found = store.nearest_ids("c", "clip", data["clip"][:6], k=3)
    assert found.shape == (6, 3) and found.dtype == np.int64
    assert found[2:, 0].tolist() == ids[2:6].tolist()  # each item is its own nearest
    assert not set(found.ravel().tolist()) & set(ids[:2].tolist())
    store.delete("c", ids[2:].tolist())
    assert store.nearest_ids("c", "clip", data["clip"][:1], k=3).tolist() == [[-1, -1, -1]]


def test_search_empty_collection(store: VectorStore) -> None:
    [result] = store.search("c", "clip", np.ones(32, np.float32), k=5)
    assert result.hits == ()


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter", "accept"),
    [
        (Filter(equals={"tag": "dog"}), lambda i: TAGS[i % 3] == "dog"),
        (Filter(any_of={"tag": ["dog", "car"]}), lambda i: TAGS[i % 3] != "cat"),
        (Filter(equals={"labels": "l3"}), lambda i: i % 5 == 3),  # list field: any element
        (Filter(equals={"even": True, "tag": "cat"}), lambda i: i % 6 == 0),
        (Filter(equals={"n": 42}), lambda i: i == 42),
        (Filter(ids=[5 + 1_000_003 * i for i in (1, 2, 3, 250)]), lambda i: i in (1, 2, 3, 250)),
        (
            Filter(equals={"tag": "car"}, ids=[5 + 1_000_003 * i for i in range(0, N, 2)]),
            lambda i: i % 6 == 2,
        ),
        (Filter(equals={"tag": "nothing"}), lambda i: False),
        (Filter(ranges={"n": Range(gte=10, lte=40)}), lambda i: 10 <= i <= 40),
        (Filter(ranges={"n": Range(gte=250.5)}), lambda i: i >= 251),
        (Filter(ranges={"size": Range(lte=1.5)}), lambda i: i % 4 * 0.75 <= 1.5),  # floats
        (
            Filter(equals={"tag": "dog"}, ranges={"n": Range(lte=100), "size": Range(gte=0.7)}),
            lambda i: TAGS[i % 3] == "dog" and i <= 100 and i % 4 * 0.75 >= 0.7,
        ),
        (Filter(ranges={"tag": Range(gte=0)}), lambda i: False),  # strings are never in range
    ],
)
def test_filtered_search_is_exact_among_matches(
    store: VectorStore, data, filter: Filter, accept: Callable[[int], bool]
) -> None:
    ids = _fill(store, data)
    keep = np.array([accept(i) for i in range(N)])
    query = data["dino"][1]
    [result] = store.search("c", "dino", query, k=10, filter=filter)
    want, _ = _brute(data["dino"][keep], ids[keep], query, 10)
    assert result.ids == want


# --- user metadata ------------------------------------------------------------------------


def _metadata(i: int) -> dict:
    """Item i's user metadata: a number, a boolean, tags, a date; ``note`` on every third item."""
    meta = {
        "price": i % 50,
        "sold": i % 4 == 0,
        "tags": [f"t{i % 5}", f"u{i % 3}"],
        "taken": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}T12:00:00Z",
    }
    if i % 3 == 0:
        meta["note"] = f"n{i}"
    return meta


def _fill_metadata(store: VectorStore, data: dict[str, np.ndarray]) -> np.ndarray:
    ids = np.arange(N, dtype=np.int64) * 7 + 11
    payloads = [{"tag": TAGS[i % 3], "metadata": _metadata(i)} for i in range(N)]
    store.upsert("c", ids, data, payloads)
    return ids


METADATA_FILTERS = [
    (Filter(equals={"metadata.sold": True}), lambda i: i % 4 == 0),
    (Filter(equals={"metadata.price": 7}), lambda i: i % 50 == 7),
    (Filter(any_of={"metadata.tags": ["t1", "t2"]}), lambda i: i % 5 in (1, 2)),  # list field
    (Filter(ranges={"metadata.price": Range(lte=24)}), lambda i: i % 50 <= 24),  # ~50 %: post
    (Filter(ranges={"metadata.price": Range(gte=3, lte=4)}), lambda i: i % 50 in (3, 4)),
    (
        Filter(dates={"metadata.taken": DateRange(gte="2024-03-01", lte="2024-04-30T23:59:59Z")}),
        lambda i: i % 12 + 1 in (3, 4),
    ),
    (Filter(exists=["metadata.note"]), lambda i: i % 3 == 0),
    (Filter(exists=["metadata.nothing"]), lambda i: False),
    (
        Filter(equals={"tag": "dog", "metadata.sold": False}, exists=["metadata.note"]),
        lambda i: TAGS[i % 3] == "dog" and i % 4 != 0 and i % 3 == 0,
    ),
]


@pytest.mark.parametrize(("filter", "accept"), METADATA_FILTERS)
def test_metadata_filters_are_exact_among_matches(
    store: VectorStore, data, filter: Filter, accept: Callable[[int], bool]
) -> None:
    ids = _fill_metadata(store, data)
    keep = np.array([accept(i) for i in range(N)])
    for query in (data["dino"][1], data["dino"][200]):
        [result] = store.search("c", "dino", query, k=10, filter=filter)
        want, _ = _brute(data["dino"][keep], ids[keep], query, 10)
        assert result.ids == want


def test_set_metadata_replaces_metadata_only_then_filters_see_it(store: VectorStore, data) -> None:
    ids = _fill_metadata(store, data)
    first, second = int(ids[0]), int(ids[1])
    store.set_metadata("c", [first, second, 999_999_999], [{"price": 1000}, {}, {"price": 1}])
    store.flush()
    items = {item.id: item for item in store.retrieve("c", [first, second])}
    assert items[first].payload == {"tag": TAGS[0], "metadata": {"price": 1000}}
    assert items[second].payload == {"tag": TAGS[1], "metadata": {}}
    np.testing.assert_allclose(items[first].vectors["clip"], _normed(data["clip"][0]), atol=1e-6)
    assert store.count("c") == N  # the unknown id was ignored, not created
    rich = Filter(ranges={"metadata.price": Range(gte=100)})
    assert store.search("c", "clip", data["clip"][5], k=5, filter=rich)[0].ids == [first]
    sold = Filter(equals={"metadata.sold": True})
    assert first not in store.search("c", "clip", data["clip"][0], k=N, filter=sold)[0].ids
    with pytest.raises(InvalidInputError, match="plain JSON"):
        store.set_metadata("c", [first], [{"x": float("nan")}])


def test_index_fields_is_idempotent_and_keeps_answers(store: VectorStore, data) -> None:
    ids = _fill_metadata(store, data)
    kinds = {"metadata.price": "number", "metadata.tags": "strings", "metadata.taken": "date"}
    store.index_fields("c", kinds)
    store.index_fields("c", kinds)
    keep = np.array([i % 50 <= 24 for i in range(N)])
    [result] = store.search(
        "c", "dino", data["dino"][3], k=10, filter=Filter(ranges={"metadata.price": Range(lte=24)})
    )
    assert result.ids == _brute(data["dino"][keep], ids[keep], data["dino"][3], 10)[0]


# --- writes --------------------------------------------------------------------------------


def test_upsert_replaces_whole_items(store: VectorStore, data) -> None:
    ids = _fill(store, data)
    target = int(ids[3])
    new_clip = -data["clip"][3]
    store.upsert("c", [target], {"clip": new_clip}, [{"tag": "new"}])
    assert store.count("c") == N
    [item] = store.retrieve("c", [target])
    assert item.payload == {"tag": "new"}
    assert set(item.vectors) == {"clip"}  # spaces not given are gone for this item
    np.testing.assert_allclose(item.vectors["clip"], _normed(new_clip), atol=1e-6)
    [hit] = store.search("c", "clip", new_clip, k=1)
    assert hit.ids == [target]
    assert target not in store.search("c", "dino", data["dino"][3], k=5)[0].ids
    assert store.search("c", "clip", new_clip, k=1, filter=Filter(equals={"tag": "new"}))[0].ids


def test_delete(store: VectorStore, data) -> None:
    ids = _fill(store, data)
    store.delete("c", [int(ids[0]), int(ids[1]), 123_456_789_000])  # unknown id ignored
    assert store.count("c") == N - 2
    assert store.retrieve("c", ids[:3].tolist())[0].id == ids[2]
    for space in ("clip", "dino", "raw"):
        found = store.search("c", space, data[space][0], k=N)[0].ids
        assert ids[0] not in found and ids[1] not in found and len(found) == N - 2


def test_without_payloads_hits_and_items_are_the_same_less_their_payloads(
    store: VectorStore, data
) -> None:
    ids = _fill(store, data)
    filter = Filter(equals={"tag": TAGS[1]})
    [full] = store.search("c", "dino", data["dino"][4], k=7, filter=filter)
    [bare] = store.search("c", "dino", data["dino"][4], k=7, filter=filter, with_payload=False)
    assert bare.ids == full.ids and len(full.ids) == 7
    assert [h.score for h in bare.hits] == pytest.approx([h.score for h in full.hits])
    assert all(h.payload == {} for h in bare.hits)
    assert all(h.payload["tag"] == TAGS[1] for h in full.hits)
    asked = [int(ids[3]), int(ids[8])]
    [item] = store.retrieve("c", asked[:1], with_payload=False)
    assert item.payload == {} and set(item.vectors) == {"clip", "dino", "raw"}
    found = store.retrieve("c", asked, with_vectors=False)
    assert [i.payload["n"] for i in found] == [3, 8] and found[0].vectors == {}


def test_hits_carry_their_vectors_in_the_spaces_asked_as_retrieve_gives_them(
    store: VectorStore, data
) -> None:
    """What the search's store stage reads in one call: each hit's stored vectors in the other
    spaces, the same as ``retrieve`` holds, and none unless asked."""
    _fill(store, data)
    [plain] = store.search("c", "clip", data["clip"][5], k=6)
    assert all(hit.vectors == {} for hit in plain.hits)
    [found] = store.search("c", "clip", data["clip"][5], k=6, with_vectors=["dino", "raw"])
    assert found.ids == plain.ids
    stored = {item.id: item.vectors for item in store.retrieve("c", found.ids)}
    for hit in found.hits:
        assert set(hit.vectors) == {"dino", "raw"}
        for space in ("dino", "raw"):
            np.testing.assert_allclose(hit.vectors[space], stored[hit.id][space], atol=1e-6)
    with pytest.raises(NotFoundError):
        store.search("c", "clip", data["clip"][5], k=3, with_vectors=["nope"])


def test_retrieve_keeps_order_and_skips_unknown(store: VectorStore, data) -> None:
    ids = _fill(store, data)
    items = store.retrieve("c", [int(ids[9]), 999, int(ids[2])])
    assert [item.id for item in items] == [ids[9], ids[2]]
    np.testing.assert_allclose(items[0].vectors["dino"], _normed(data["dino"][9]), atol=1e-6)
    np.testing.assert_allclose(items[0].vectors["raw"], data["raw"][9], atol=1e-5)  # dot: as is
    assert store.retrieve("c", [int(ids[9])], with_vectors=False)[0].vectors == {}


def test_partial_spaces_upsert(store: VectorStore, data) -> None:
    store.upsert("c", [1, 2], {"raw": data["raw"][:2]})
    assert store.count("c") == 2
    assert store.search("c", "clip", data["clip"][0], k=5)[0].hits == ()
    assert sorted(store.search("c", "raw", data["raw"][0], k=5)[0].ids) == [1, 2]


# --- bad input -----------------------------------------------------------------------------


def _bad_upserts(data):
    ok = {"clip": data["clip"][:2]}
    nan = data["clip"][:2].copy()
    nan[1, 3] = np.nan
    inf = data["clip"][:2].copy()
    inf[0, 0] = np.inf
    return [
        (([1, 2], {"clip": data["dino"][:2]}, None), "dimension 32"),
        (([1, 2], {"clip": nan}, None), "NaN or infinity"),
        (([1, 2], {"clip": inf}, None), "NaN or infinity"),
        (([1, 2], {"nope": data["clip"][:2]}, None), "no space 'nope'"),  # NotFoundError
        (([1, 1], ok, None), "duplicate ids"),
        (([1, 2, 3], ok, None), "2 vectors for 3 ids"),
        (([1, -2], ok, None), "between 0 and"),
        (([1, 2], ok, [{}]), "1 payloads for 2 ids"),
        (([1, 2], {"clip": np.zeros((2, 32))}, None), "all zeros"),
        (([1, 2], {}, None), "at least one space"),
        ((["a", "b"], ok, None), "integers"),
        (([1, 2], ok, [{"n": np.int64(3)}, {}]), "not plain JSON"),
        (([1, 2], ok, [{"x": float("nan")}, {}]), "not plain JSON"),
    ]


def test_bad_upserts_are_rejected_and_change_nothing(store: VectorStore, data) -> None:
    store.upsert("c", [1000], {"clip": data["clip"][5]}, [{"keep": 1}])
    for (ids, vectors, payloads), message in _bad_upserts(data):
        error = NotFoundError if "no space" in message else InvalidInputError
        with pytest.raises(error, match=message):
            store.upsert("c", ids, vectors, payloads)
    assert store.count("c") == 1
    assert store.retrieve("c", [1000])[0].payload == {"keep": 1}


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 2.5, True])
def test_bad_k(store: VectorStore, k) -> None:
    with pytest.raises(InvalidInputError, match="k must be"):
        store.search("c", "clip", np.ones(32), k=k)


def test_bad_queries(store: VectorStore, data) -> None:
    _fill(store, data)
    with pytest.raises(InvalidInputError, match="dimension 32"):
        store.search("c", "clip", np.ones(31))
    with pytest.raises(InvalidInputError, match="NaN"):
        store.search("c", "clip", np.full(32, np.nan))
    with pytest.raises(NotFoundError, match="no space 'sketch'"):
        store.search("c", "sketch", np.ones(32))
    with pytest.raises(NotFoundError, match="missing"):
        store.search("missing", "clip", np.ones(32))
    with pytest.raises(InvalidInputError, match="filter value"):
        Filter(equals={"score": 0.5})
    with pytest.raises(InvalidInputError, match="empty range"):
        Filter(ranges={"bytes": Range(gte=5, lte=1)})
    with pytest.raises(InvalidInputError, match="numbers"):
        Filter(ranges={"bytes": Range(gte="5")})


def test_concurrent_writers_and_readers(store: VectorStore, data) -> None:
    def work(worker: int) -> None:
        for step in range(5):
            first = worker * 1000 + step * 10
            store.upsert("c", range(first, first + 10), {"clip": data["clip"][first % N :][:10]})
            store.search("c", "clip", data["clip"][:3], k=5)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(4)))
    assert store.count("c") == 4 * 5 * 10


def test_health(store: VectorStore) -> None:
    health = store.health()
    assert health.ready and store.ready()
    assert health.backend == store.backend


# --- persistence and congruence ------------------------------------------------------------


@pytest.mark.parametrize("backend", PERSISTENT)
def test_reopen_gives_the_same_answers(backend: str, tmp_path: Path, data) -> None:
    first = _open(backend, tmp_path)
    first.ensure_collection("c", SPACES)
    ids = _fill(first, data)
    first.delete("c", [int(ids[4])])
    before = first.search("c", "dino", data["dino"][:3], k=7)
    first.close()
    second = _open(backend, tmp_path)
    assert second.count("c") == N - 1
    assert set(second.spaces("c")) == set(SPACES)
    after = second.search("c", "dino", data["dino"][:3], k=7)
    _assert_same(after, before)
    second.close()


def test_every_backend_agrees_with_faiss_in_exact_mode(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    spec = SpaceSpec("v", 64)
    vectors = rng.normal(size=(2000, 64)).astype(np.float32)
    queries = rng.normal(size=(20, 64)).astype(np.float32)
    ids = rng.choice(2**40, size=2000, replace=False)
    payloads = [{"tag": int(i % 4)} for i in range(2000)]
    answers = []
    for backend in ["faiss", *(v for v in VARIANTS if v != "faiss")]:
        store = _open(backend, tmp_path)
        store.ensure_collection("c", [spec])
        store.upsert("c", ids, {"v": vectors}, payloads)
        plain = store.search("c", "v", queries, k=10)
        filtered = store.search("c", "v", queries, k=10, filter=Filter(equals={"tag": 2}))
        answers.append((plain, filtered))
        store.close()
    for other in answers[1:]:
        for faiss_results, other_results in zip(answers[0], other, strict=True):
            _assert_same(faiss_results, other_results)


def _assert_same(ours: list, theirs: list) -> None:
    """Same hits in the same order, same payloads, scores equal up to float32 rounding."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.ids == b.ids
        assert [h.payload for h in a.hits] == [h.payload for h in b.hits]
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-5)
