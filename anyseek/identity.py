"""Which model made a set of vectors, and the one refusal when another model would meet them.

A :class:`ModelIdentity` is made from a loaded model by ``anyseek.model.service.model_identity``,
stored on a collection version and read back by ``anyseek.db.versions`` (``store_identity`` /
``stored_identity``), and compared with ``==``. Every place that finds two identities apart refuses
through :func:`ensure_same_model`, so users see one error and one way out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from anyseek.errors import ModelMismatchError


@dataclass(frozen=True)
class ModelIdentity:
    """Which model made a set of vectors: its name and weights digest, and where it was loaded from.

    Equality (and hashing) is by ``name`` and ``version`` only, the two that decide whether
    vectors compare: ``version`` is the content hash of the weight files, and ``name`` is what
    the model's spaces are registered under. ``source`` is where the model was loaded from; the
    same weights may be found at another path or spelling, so it does not count; nor does
    ``precision``, since float32 and bfloat16 vectors of one model compare (docs/models.md). The
    family is implied by the weights, and the spaces are registered under the identity (the same
    weights predict the same spaces), so neither is part of it.
    """

    name: str
    version: str  # content hash of the weights: the version of the vectors
    source: str | None = field(default=None, compare=False)
    # what the vectors were computed in (float32, bfloat16): they differ slightly but compare
    precision: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


def mismatch_message(collection: str, made_by: ModelIdentity, found: ModelIdentity) -> str:
    """The one message for vectors of ``collection`` (made by ``made_by``) meeting ``found``:
    both models, and the two ways out (re-index to the new model, or serve the old one again)."""
    where = made_by.source or "ANYSEEK_MODEL__SOURCE"
    return (
        f"collection {collection!r} was indexed with {made_by} from {where}, not {found}: their "
        f"vectors do not compare. Re-index it with the new model (`anyseek reindex {collection} "
        f"--model SOURCE` or POST /v1/collections/{collection}/reindex), or configure the "
        f"collection's model: make {where} serve {made_by} again"
    )


def ensure_same_model(collection: str, made_by: ModelIdentity | None, found: ModelIdentity) -> None:
    """Refuse (:class:`ModelMismatchError`, HTTP 409) to let ``found`` meet vectors of
    ``collection`` made by another model; ``made_by`` None (nothing recorded) passes."""
    if made_by is not None and made_by != found:
        raise ModelMismatchError(mismatch_message(collection, made_by, found))
