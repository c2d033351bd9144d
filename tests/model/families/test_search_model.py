"""The built-in model behind the service's SearchModel interface: identity, spaces, embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from anyseek.model.families.base import SearchModelBase
from anyseek.model.families.interface import ModelError, QueryRequest, SearchModel
from anyseek.model.families.registry import load_search_model
from anyseek.model.transforms import UserInputError
from anyseek.settings import ModelSettings


@pytest.fixture(scope="module")
def search_model() -> SearchModel:
    return load_search_model("builtin")


def test_builtin_declares_spaces_and_query_modalities(search_model: SearchModel) -> None:
    assert isinstance(search_model, SearchModel)
    assert {s.name: s.dim for s in search_model.spaces} == {"bind": 256}
    assert set(search_model.query_modalities) == {
        "image", "caption", "sketch", "edges", "depth", "semseg", "normal"
    }  # fmt: skip
    assert len(search_model.version) == 16


def test_reindexing_an_image_gives_identical_vectors(search_model: SearchModel) -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8))
    first = search_model.embed_images(search_model.image_input(image)[None])
    batch = torch.stack([search_model.image_input(image)] * 3)
    again = search_model.embed_images(batch)
    for space in ("bind",):
        assert first[space].dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(again[space], axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(again[space], np.repeat(first[space], 3, 0), atol=1e-5)


def test_query_from_a_caption_and_bad_queries(search_model: SearchModel) -> None:
    caption = search_model.query_modalities["caption"].transform("a red cube")
    found = search_model.embed_query({"caption": caption})
    assert found["bind"].vector.shape == (256,)
    np.testing.assert_allclose(np.linalg.norm(found["bind"].vector), 1.0, atol=1e-5)
    with pytest.raises(UserInputError, match="empty"):  # a blank page is no sketch
        search_model.query_modalities["sketch"].transform(Image.new("L", (64, 64), 255))
    with pytest.raises(UserInputError, match="empty"):
        search_model.query_modalities["caption"].transform("   ")
    with pytest.raises(ModelError, match="not accepted"):
        search_model.embed_query({"smell": caption})


def test_model_settings_choose_device_and_precision(search_model: SearchModel) -> None:
    half = load_search_model(ModelSettings(dtype="bfloat16", device="cpu"))
    assert half.compute_dtype == torch.bfloat16
    rgb = torch.stack(
        [search_model.image_input(Image.new("RGB", (64, 64), c)) for c in ("red", "green", "navy")]
    )
    full, low = search_model.embed_images(rgb), half.embed_images(rgb)
    for space in ("bind",):
        cosines = (full[space] * low[space]).sum(1)
        assert (cosines > 0.98).all(), cosines
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no CUDA device"):
            load_search_model(ModelSettings(device="cuda"))


def test_each_family_adapter_shares_the_base_checks(search_model: SearchModel) -> None:
    """The built-in adapter is a SearchModelBase: the gallery input and request checks are its."""
    assert isinstance(search_model, SearchModelBase)
    assert search_model.gallery_input.name == "image"
    with pytest.raises(ModelError, match="weights for modalities not in the query"):
        search_model.check_request(QueryRequest({"caption": torch.zeros(3)}, {"sketch": 1.0}))
    with pytest.raises(ModelError, match=r"'smell'\] are not accepted; this model takes: caption"):
        search_model.check_request(QueryRequest({"smell": torch.zeros(3)}))
