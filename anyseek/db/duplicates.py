"""Near-duplicate groups of a collection as recorded by the indexer, and its threshold setting."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from anyseek.db.models import Item, NearDuplicate
from anyseek.db.repository import get_collection
from anyseek.errors import AnyseekError


@dataclass(frozen=True)
class GroupMember:
    """One image of a group: its id, source and similarity to the group's first item."""

    id: int
    source_uri: str
    similarity: float | None = None  # None for the group's first item


@dataclass(frozen=True)
class DuplicateGroup:
    """The first item indexed and the near-duplicates linked to it, most similar first."""

    original: GroupMember
    duplicates: tuple[GroupMember, ...]


def duplicate_groups(session: Session, collection: str) -> list[DuplicateGroup]:
    """Every group of the collection, by its first item's id."""
    owner = get_collection(session, collection)
    original = aliased(Item)
    rows = session.execute(
        select(
            NearDuplicate.original_id,
            original.source_uri,
            NearDuplicate.item_id,
            Item.source_uri,
            NearDuplicate.similarity,
        )
        .join(Item, Item.id == NearDuplicate.item_id)
        .join(original, original.id == NearDuplicate.original_id)
        .where(Item.collection_id == owner.id)
        .order_by(NearDuplicate.original_id, NearDuplicate.similarity.desc(), NearDuplicate.item_id)
    ).all()
    groups: dict[int, tuple[GroupMember, list[GroupMember]]] = {}
    for original_id, original_uri, item_id, item_uri, similarity in rows:
        first = GroupMember(original_id, original_uri)
        _, members = groups.setdefault(original_id, (first, []))
        members.append(GroupMember(item_id, item_uri, similarity))
    return [DuplicateGroup(head, tuple(members)) for head, members in groups.values()]


def set_threshold(session: Session, collection: str, threshold: float | None) -> None:
    """Set a collection's near-duplicate threshold (0 = never; None = the settings' default)."""
    if threshold is not None and not 0 <= threshold <= 1:
        raise AnyseekError(f"a near-duplicate threshold is between 0 and 1, got {threshold}")
    get_collection(session, collection).near_duplicate_threshold = threshold
