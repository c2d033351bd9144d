"""The snapshot a paging cursor is bound to: a collection's newest indexed item id.

Item ids only grow, so "every item with an id up to the watermark" is the collection as the first
page saw it; items indexed later are left out of the following pages (``search.cursor``).
"""

from __future__ import annotations

from sqlalchemy import func, select

from anyseek.db.models import Collection, Item, ItemStatus
from anyseek.db.session import Database


class CollectionWatermark:
    """``lookup(collection)`` -> the newest indexed item id of the collection, or None."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __call__(self, collection: str) -> int | None:
        """The largest id among the collection's indexed items (None when it has none)."""
        with self.database.session() as session:
            return session.scalar(
                select(func.max(Item.id))
                .join(Collection, Collection.id == Item.collection_id)
                .where(Collection.name == collection, Item.status == ItemStatus.INDEXED)
            )

    def close(self) -> None:
        """Release the database connections."""
        self.database.dispose()
