"""The model's depth and segmentation of each indexed image, as PNGs beside its thumbnail.

Only models that reconstruct (MultiMAE, see
:class:`anyseek.model.families.interface.ReconstructingModel`)
produce them. They are predicted with the chunk's vectors and written once the chunk is staged
(when its items have ids), and again by a re-index with such a model (``anyseek.indexer.reindex``);
the web page's item view and ``GET .../thumbnail?kind=`` serve them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from sqlalchemy import select

from anyseek.db.models import Collection, Item
from anyseek.db.session import Database
from anyseek.errors import AnyseekError
from anyseek.indexer.decode import Decoded
from anyseek.indexer.thumbnails import reconstruction_path, write_thumbnail
from anyseek.model.service import ReconstructingModel, SearchModel
from anyseek.settings import Settings

ByHash = dict[str, dict[str, bytes]]  # image sha256 -> {kind: PNG bytes}


def predict(model: SearchModel, decoded: Sequence[Decoded], size: int, batch_size: int) -> ByHash:
    """Depth and segmentation PNGs of each decoded image; empty for models that cannot."""
    decoded = [d for d in decoded if d.rgb is not None]  # a model reconstructs from photos
    if not decoded or not isinstance(model, ReconstructingModel):
        return {}
    found: ByHash = {}
    with torch.inference_mode():
        for start in range(0, len(decoded), batch_size):
            batch = decoded[start : start + batch_size]
            try:
                pngs = model.reconstruction_pngs(torch.stack([d.rgb for d in batch]), size)
            except AnyseekError:  # a checkpoint without depth/semseg output adapters
                return {}
            found.update((d.fetched.sha256, p) for d, p in zip(batch, pngs, strict=True))
    return found


def write(
    database: Database, settings: Settings, collection_id: int, pictures: Mapping[str, Mapping]
) -> int:
    """Write the PNGs of the collection's items with these hashes; returns the files written."""
    if not pictures:
        return 0
    with database.session() as session:
        rows = session.execute(
            select(Item.id, Item.sha256).where(
                Item.collection_id == collection_id, Item.sha256.in_(list(pictures))
            )
        ).all()
        name = session.get(Collection, collection_id).name
    return write_items(settings, name, {item_id: pictures[sha256] for item_id, sha256 in rows})


def write_items(
    settings: Settings, collection: str, pictures: Mapping[int, Mapping[str, bytes]]
) -> int:
    """Write the PNGs of items by id (a re-index knows its ids); returns the files written."""
    written = 0
    for item_id, pngs in pictures.items():
        for kind, data in pngs.items():
            write_thumbnail(reconstruction_path(settings, collection, item_id, kind), data)
            written += 1
    return written
