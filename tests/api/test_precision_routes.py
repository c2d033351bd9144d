"""`GET /v1/model` says what the server computes gallery vectors in, and `GET /v1/collections`
and the versions route what a collection's were computed in (ANYSEEK_MODEL__PRECISION forced to
bfloat16, whatever this CPU would choose)."""

from __future__ import annotations

from pathlib import Path

from api_helpers import serve

from anyseek.model.families.registry import load_search_model
from anyseek.scenes import SceneSample
from anyseek.settings import ModelSettings


def test_the_precision_is_shown_by_the_model_and_collection_routes(
    tmp_path: Path, scenes: list[SceneSample]
) -> None:
    model = load_search_model(ModelSettings(precision="bfloat16"))
    for served in serve(tmp_path, model, scenes[:3]):
        client = served.client
        assert client.get("/v1/model").json()["precision"] == "bfloat16"
        listed = client.get("/v1/collections").json()["collections"]
        assert [c["precision"] for c in listed] == ["bfloat16"]
        name = listed[0]["name"]
        versions = client.get(f"/v1/collections/{name}/versions").json()["versions"]
        assert [v["precision"] for v in versions] == ["bfloat16"]
