"""Official 4M / 4M-21 checkpoints (EPFL-VILAB) as search models: the FM, its tokenizers, every
query modality it takes (structured ones included), and the licence notice its weights need."""

from anyseek.model.families.official.loading import load_official_search_model
from anyseek.model.families.official.priors import priors_from_bytes, priors_to_bytes
from anyseek.model.families.official.search import QUERY_SPECS, SPACE_SPECS, OfficialSearchModel
from anyseek.model.families.official.sources import (
    LICENCE_NOTICE,
    is_official_source,
    notice_licence,
)
from anyseek.model.families.official.structured import (
    METADATA_KEYS,
    STRUCTURED_INPUTS,
    serialize_boxes,
    serialize_metadata,
    serialize_palette,
)

__all__ = [
    "LICENCE_NOTICE",
    "METADATA_KEYS",
    "QUERY_SPECS",
    "SPACE_SPECS",
    "STRUCTURED_INPUTS",
    "OfficialSearchModel",
    "is_official_source",
    "load_official_search_model",
    "notice_licence",
    "priors_from_bytes",
    "priors_to_bytes",
    "serialize_boxes",
    "serialize_metadata",
    "serialize_palette",
]
