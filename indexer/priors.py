"""A collection's space priors, estimated once from its first indexed images and stored with it.

Models whose query information is measured against what they predict for a typical image
(:class:`anyseek.model.families.interface.PriorModel`, official 4M checkpoints) get priors per
collection:
the first chunk staged estimates them from its decoded images (at most ``indexer.prior_images``;
later chunks add to none) and writes them with the collection's model version. A collection that
has priors keeps them: re-indexing or more jobs never re-estimate, so queries stay identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sqlalchemy import exc, select

from anyseek.db.models import Collection, CollectionPriors
from anyseek.db.session import Database
from anyseek.model.service import PriorModel, SearchModel


def has_priors(database: Database, collection_id: int) -> bool:
    """Whether the collection has stored priors already."""
    with database.session() as session:
        found = session.scalar(
            select(CollectionPriors.collection_id).where(
                CollectionPriors.collection_id == collection_id
            )
        )
        return found is not None


def ensure_priors(
    database: Database,
    model: SearchModel,
    collection_id: int,
    pixels: Sequence[torch.Tensor],
    limit: int,
) -> bool:
    """Estimate and store the collection's priors from ``pixels`` (model-ready rgb, the first
    ``limit`` used) unless it has some or the model needs none; whether they were stored now."""
    if not isinstance(model, PriorModel) or not pixels or has_priors(database, collection_id):
        return False
    images = torch.stack(list(pixels[:limit]))
    data = model.priors_to_bytes(model.estimate_priors(images))
    try:
        with database.session() as session:
            collection = session.get(Collection, collection_id)
            if collection is None:
                return False
            session.add(
                CollectionPriors(
                    collection_id=collection_id,
                    model_name=model.name,
                    model_version=model.version,
                    priors=data,
                    images=len(images),
                )
            )
    except exc.IntegrityError:  # another worker stored them first: theirs stand
        return False
    return True
