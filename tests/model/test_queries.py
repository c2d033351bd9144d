"""The query-modality declarations: well-formed, the only names a model may offer, in one order."""

from __future__ import annotations

import pytest

from anyseek.model.families.interface import ModelError, QueryModality
from anyseek.model.families.registry import load_search_model
from anyseek.model.queries import EDITORS, QUERY_KINDS, QueryKind, query_kinds_markdown
from anyseek.settings import ModelSettings


def test_every_declaration_names_a_known_editor_and_a_unique_option() -> None:
    options = [kind.cli_option for kind in QUERY_KINDS.values()]
    assert len(set(options)) == len(options)
    assert all(kind.editor in EDITORS for kind in QUERY_KINDS.values())
    assert all(name == kind.name for name, kind in QUERY_KINDS.items())


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"editor": "crayon"}, "editor must be one of"),
        ({"formats": ()}, "list formats"),
        ({"value": "text"}, "list formats"),  # a text kind with file formats
    ],
)
def test_a_declaration_the_surfaces_could_not_render_is_refused(fields: dict, words: str) -> None:
    base = {"name": "x", "value": "file", "transform": "rgb", "editor": "file", "label": "X"}
    with pytest.raises(ValueError, match=words):
        QueryKind(**{**base, "help": "an x", "formats": ("png",), **fields})


def test_a_model_cannot_offer_an_undeclared_query_modality() -> None:
    with pytest.raises(ModelError, match="'smell' is not declared"):
        QueryModality("smell", "smell@64", lambda value: value)


def test_the_builtin_model_takes_edges_and_lists_its_queries_in_declared_order() -> None:
    model = load_search_model(ModelSettings())
    names = list(model.query_modalities)
    assert "edges" in names
    assert names == [name for name in QUERY_KINDS if name in names]
    assert model.query_modalities["edges"].kind.editor == "sketch"


def test_the_docs_table_is_the_declarations() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    assert query_kinds_markdown() in docs, (
        "docs/api.md's query-modality table differs from model/queries.py: paste "
        "python -c 'from anyseek.model.queries import query_kinds_markdown as t; print(t())'"
    )
