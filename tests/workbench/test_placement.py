"""On-the-fly placement of a person's drawing: each object moved and resized by itself, and a
page of another shape (``anyseek.workbench.placement``), and the batches that use them."""

from __future__ import annotations

import random

import torch

from anyseek.workbench.placement import objects_moved, page_shaped, pieces
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher


def _two_squares() -> torch.Tensor:
    """A 32 px sketch [1, 1, S, S]: two square outlines far apart, ink 1 on paper -1."""
    page = -torch.ones(1, 1, 32, 32)
    for top, left in ((4, 4), (20, 20)):
        page[0, 0, top, left : left + 6] = page[0, 0, top + 5, left : left + 6] = 1
        page[0, 0, top : top + 6, left] = page[0, 0, top : top + 6, left + 5] = 1
    return page


def test_a_drawing_s_pieces_are_its_objects_and_a_skipped_pen_joins_its_piece() -> None:
    ink = (_two_squares()[0, 0] > 0).numpy()
    assert pieces(ink)[1] == 2
    ink[4, 6] = False  # the pen skipped one pixel of the first outline
    assert pieces(ink)[1] == 2 and pieces(ink, reach=0)[1] == 2  # still closed the other way
    ink[4, 5:8] = False
    assert pieces(ink, reach=0)[1] == 2 and pieces(ink, reach=1)[1] == 2


def test_no_move_leaves_a_drawing_as_it_was_and_a_move_keeps_its_values() -> None:
    sketch = _two_squares()
    assert torch.equal(objects_moved(sketch, "sketch", 0.0, 0.0), sketch)
    torch.manual_seed(0)
    moved = objects_moved(sketch, "sketch", 0.1, 0.2)
    assert set(moved.unique().tolist()) == {-1.0, 1.0} and not torch.equal(moved, sketch)
    painting = torch.ones(1, 32, 32, dtype=torch.long)  # floor
    painting[0, 2:8, 2:8], painting[0, 20:30, 20:30] = 3, 5
    assert torch.equal(objects_moved(painting, "semseg", 0.0, 0.0), painting)
    moved = objects_moved(painting, "semseg", 0.1, 0.2)
    assert set(moved.unique().tolist()) <= {1, 3, 5} and not torch.equal(moved, painting)


def test_each_object_moves_by_itself() -> None:
    torch.manual_seed(1)
    sketch = _two_squares().expand(64, 1, 32, 32).contiguous()
    moved = objects_moved(sketch, "sketch", 0.08, 0.0)
    first = (moved[:, 0, :16, :16] > 0).flatten(1).float()
    second = (moved[:, 0, 16:, 16:] > 0).flatten(1).float()
    # one object's place says little of the other's: the two are not one drawing shifted
    where_first = (first * torch.arange(256)).sum(1) / first.sum(1).clamp_min(1)
    where_second = (second * torch.arange(256)).sum(1) / second.sum(1).clamp_min(1)
    both = torch.stack([where_first, where_second])
    assert abs(torch.corrcoef(both)[0, 1]) < 0.5


def test_a_tall_page_narrows_a_drawing_and_a_wide_one_flattens_it() -> None:
    sketch = _two_squares()
    tall, wide = page_shaped(sketch, (0.5, 0.5)), page_shaped(sketch, (2.0, 2.0))
    columns = lambda x: (x[0, 0] > 0).any(0).sum()  # noqa: E731
    rows = lambda x: (x[0, 0] > 0).any(1).sum()  # noqa: E731
    assert columns(tall) < columns(sketch) and rows(tall) == rows(sketch)
    assert rows(wide) < rows(sketch) and columns(wide) == columns(sketch)


def test_a_batch_moves_only_people_s_drawings(tiny_training: tuple) -> None:
    data, _, vocab = tiny_training
    queries = ("sketch",)
    plain = TrainRecipe(p_drawn=0.0, p_shift=0.0, p_place=1.0, p_page=1.0)
    index = torch.arange(8)
    batcher = Batcher(data, vocab, plain, queries, random.Random(0))
    generator_s = batcher.pixel_rows("sketch", index)
    again = Batcher(data, vocab, TrainRecipe(p_drawn=0.0, p_shift=0.0), queries, random.Random(0))
    assert torch.equal(generator_s, again.pixel_rows("sketch", index))
    drawn = TrainRecipe(p_drawn=1.0, p_shift=0.0)
    still = Batcher(data, vocab, drawn, queries, random.Random(0)).pixel_rows("sketch", index)
    placed = TrainRecipe(p_drawn=1.0, p_shift=0.0, p_place=1.0, p_page=1.0)
    torch.manual_seed(0)
    moved = Batcher(data, vocab, placed, queries, random.Random(0)).pixel_rows("sketch", index)
    assert not torch.equal(moved, still) and set(moved.unique().tolist()) <= {-1.0, 1.0}
