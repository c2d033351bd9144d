"""The demo's gallery and its example queries: generated scenes whose right answers are known.

Every generated scene comes with its own sketch, depth map, segmentation and captions, so each one
is a query whose answer is that scene's image. The demo indexes the images and asks the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from pathlib import Path

from anyseek.db.models import Collection, Item, ItemStatus
from anyseek.db.session import Database
from anyseek.scenes.dataset import MANIFEST, SceneReader, file_stem
from anyseek.search.query import QueryPart, SearchQuery, SearchResults

SPLIT = "gallery"
SIZE = 64  # the built-in model's resolution


@dataclass(frozen=True)
class DemoQuery:
    """One kind of example query: a name and how a scene's files become its parts."""

    name: str
    parts: Callable[[Path, int, str], tuple[QueryPart, ...]]  # (split dir, index, caption)


def _png(modality: str) -> Callable[[Path, int, str], tuple[QueryPart, ...]]:
    """Query by one of the scene's own PNG files (sketch, depth, semseg...)."""
    return lambda root, i, _: (QueryPart(modality, str(root / modality / f"{file_stem(i)}.png")),)


def _caption(root: Path, i: int, caption: str) -> tuple[QueryPart, ...]:
    return (QueryPart("caption", caption),)


QUERIES: tuple[DemoQuery, ...] = (
    DemoQuery("caption", _caption),
    DemoQuery("sketch", _png("sketch")),
    DemoQuery("depth", _png("depth")),
    DemoQuery("semseg", _png("semseg")),
    DemoQuery("caption+sketch", lambda r, i, c: _caption(r, i, c) + _png("sketch")(r, i, c)),
)


def gallery_ready(root: Path, n: int, seed: int) -> bool:
    """Whether ``root`` already holds the gallery of ``n`` scenes made from ``seed``."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
        split = manifest["splits"][SPLIT]
    except (OSError, ValueError, KeyError):
        return False
    return split.get("count") == n and split.get("seed") == seed and manifest.get("size") == SIZE


def item_ids(database: Database, collection: str, images: Path) -> dict[int, int]:
    """Scene index -> item id of its indexed image in ``collection``."""
    with database.session() as session:
        rows = (
            session.query(Item.source_uri, Item.id)
            .join(Collection)
            .filter(Collection.name == collection, Item.status == ItemStatus.INDEXED)
            .all()
        )
    found = {}
    for uri, item_id in rows:
        path = Path(uri)
        if path.parent.name == images.name and path.stem.isdigit():
            found[int(path.stem)] = item_id
    return found


@dataclass(frozen=True)
class QueryScore:
    """How one kind of example query did: recall at 1 and 10 over the scenes asked."""

    name: str
    asked: int
    r1: float
    r10: float
    answers: dict[int, SearchResults]  # scene -> its answer


def ask(
    search_many: Callable[[Sequence[SearchQuery]], list],
    collection: str,
    root: Path,
    ids: dict[int, int],
    scenes: Sequence[int],
    accepted: Container[str] | None = None,
) -> list[QueryScore]:
    """Ask every kind of example query for each scene; score where its own image ranks. With
    ``accepted`` (the model's query modalities), kinds needing another modality are skipped."""
    reader = SceneReader(root, SPLIT)
    split_dir = root / SPLIT
    captions = {i: reader[i].captions[0] for i in scenes}
    scores = []
    for kind in QUERIES:
        queries = [
            SearchQuery(collection, kind.parts(split_dir, i, captions[i]), k=10) for i in scenes
        ]
        needed = {part.modality for query in queries[:1] for part in query.parts}
        if accepted is not None and not all(m in accepted for m in needed):
            continue
        answers = search_many(queries)
        hits1 = hits10 = 0
        for i, answer in zip(scenes, answers, strict=True):
            if isinstance(answer, Exception):
                raise answer
            found = [hit.id for hit in answer.hits]
            hits1 += found[:1] == [ids.get(i)]
            hits10 += ids.get(i) in found
        scores.append(
            QueryScore(
                kind.name,
                len(scenes),
                hits1 / len(scenes),
                hits10 / len(scenes),
                dict(zip(scenes, answers, strict=True)),
            )
        )
    return scores


def example_scene(scores: Sequence[QueryScore], ids: dict[int, int], top: int) -> int:
    """The asked scene whose answers show best what works: the one most kinds put in their
    first ``top`` results, the better ranks first (ties: the lowest scene number)."""

    def merit(scene: int) -> tuple[int, float, int]:
        ranks = [
            [h.id for h in s.answers[scene].hits].index(ids.get(scene)) + 1
            if ids.get(scene) in [h.id for h in s.answers[scene].hits[:top]]
            else None
            for s in scores
        ]
        found = [r for r in ranks if r is not None]
        return (len(found), sum(1 / r for r in found), -scene)

    return max(scores[0].answers, key=merit)


CAPTIONS = "demo-captions"
"""The demo's collection of captions: the scenes asked, one caption each (``anyseek index
FILE.jsonl --modality caption``), which their photos are asked against the other way round."""


def write_captions(root: Path, scenes: Sequence[int]) -> Path:
    """A JSON-lines file of the asked scenes' first captions, keyed ``scene N``."""
    reader = SceneReader(root, SPLIT)
    path = root / "captions_of_asked_scenes.jsonl"
    lines = [json.dumps({"text": reader[i].captions[0], "key": f"scene {i}"}) for i in scenes]
    path.write_text("\n".join(lines) + "\n")
    return path


def ask_captions(
    search_many: Callable[[Sequence[SearchQuery]], list], root: Path, scenes: Sequence[int]
) -> QueryScore:
    """Each asked scene's photo against the collection of captions: where its own ranks."""
    images = root / SPLIT / "rgb"
    queries = [
        SearchQuery(CAPTIONS, (QueryPart("image", str(images / f"{file_stem(i)}.png")),), k=10)
        for i in scenes
    ]
    answers = search_many(queries)
    keys = {}
    for i, answer in zip(scenes, answers, strict=True):
        if isinstance(answer, Exception):
            raise answer
        keys[i] = [hit.payload.get("key") for hit in answer.hits]
    r1 = sum(keys[i][:1] == [f"scene {i}"] for i in scenes) / len(scenes)
    r10 = sum(f"scene {i}" in keys[i] for i in scenes) / len(scenes)
    return QueryScore(
        "photo->caption", len(scenes), r1, r10, dict(zip(scenes, answers, strict=True))
    )


def indexed_count(database: Database, collection: str) -> int:
    """How many items of ``collection`` are indexed (0 when there is no such collection)."""
    with database.session() as session:
        return (
            session.query(Item.id)
            .join(Collection)
            .filter(Collection.name == collection, Item.status == ItemStatus.INDEXED)
            .count()
        )
