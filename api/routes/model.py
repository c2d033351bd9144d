"""``GET /v1/model``: the loaded model's identity, spaces, query modalities and class palette.

The web page builds its query tools from it (a brush per palette class, only the modalities the
model takes).
"""

from __future__ import annotations

from fastapi import APIRouter

from anyseek.access import access_mode
from anyseek.api.deps import READ, State
from anyseek.api.routes.common import errors
from anyseek.api.schemas import ModelInfo, PaletteClassOut, QueryModalityOut, SpaceOut
from anyseek.model.service import RECONSTRUCTION_KINDS, ReconstructingModel, item_modalities
from anyseek.search.relevance import relevance_note

router = APIRouter(tags=["model"])


@router.get(
    "/v1/model",
    response_model=ModelInfo,
    dependencies=[READ],
    responses=errors(401, 503),
)
def model_info(state: State) -> ModelInfo:
    """What queries can be built: spaces, query modalities and the segmentation palette."""
    model = state.ready_searcher.model
    palette = getattr(model, "palette", None)
    return ModelInfo(
        name=model.name,
        version=model.version,
        precision=model.precision,
        spaces=[SpaceOut(name=s.name, dim=s.dim) for s in model.spaces],
        query_modalities=[
            QueryModalityOut.model_validate(q.kind.to_json())
            for q in model.query_modalities.values()
        ],
        item_modalities=list(item_modalities(model)),
        previews=list(RECONSTRUCTION_KINDS)
        if isinstance(model, ReconstructingModel) and state.settings.indexer.reconstructions
        else [],
        relevance_note=relevance_note(model),
        access=access_mode(state.settings.api),
        palette=None
        if palette is None
        else [PaletteClassOut(id=c.id, name=c.name, color=list(c.color)) for c in palette.classes],
    )
