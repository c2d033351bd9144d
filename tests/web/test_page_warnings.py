"""The page in a real browser: words the model cannot read are shown next to the caption box,
and a synonym of a scene word finds the same scenes as the word itself."""

from __future__ import annotations

from pathlib import Path

from page_drawing import open_page, result_ids, search, shoot


def test_unknown_words_are_shown_next_to_the_caption(page, server, artefacts: Path) -> None:
    open_page(page, server)
    assert page.is_hidden("#caption-warnings")
    page.fill("#caption", "a teal pyramid with stripes")
    search(page)
    shoot(page, artefacts, "20-unknown-words")
    assert page.is_visible("#caption-warnings")
    shown = page.inner_text("#caption-warnings")
    assert 'unknown word "stripes"' in shown and '"with"' not in shown  # a word it knows
    assert "teal" not in shown and "pyramid" not in shown  # synonyms: read as cyan and cone
    synonym_ids = result_ids(page)
    assert synonym_ids

    page.fill("#caption", "a cyan cone with stripes")  # typing hides the last search's warnings
    assert page.is_hidden("#caption-warnings")
    search(page)
    assert page.is_visible("#caption-warnings")
    assert result_ids(page) == synonym_ids  # "teal pyramid" understood as "cyan cone"
