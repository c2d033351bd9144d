"""Training the built-in model: every query modality pulled to its scene's image, chunk by chunk.

Each step takes a batch of training scenes. Every row shows its image (the image tower), one
other pixel modality chosen at random (through that modality's stem and the shared trunk, so the
trunk sees every modality in every batch) and one caption (the text tower). Sketches and
segmentations are often a person's drawing (``anyseek.workbench.styles``), shifted a little more on
the fly (and, when a recipe asks, each object moved by itself or the page reshaped:
``anyseek.workbench.placement``); captions are the generator's phrasings, one object's phrase, or a
person's words. The loss is symmetric InfoNCE of the pixel queries and of the captions against the
images, with one learned temperature (and, when a recipe weighs them, of non-rgb modalities
against each other: ``anyseek.workbench.cross``; of extra one-object caption rows beside the
scene captions, each picking among the images: ``object_rows``, and of extra rows of a caption's
colours only: ``colour_rows``; of captions cut to their shapes in the pairs with maps:
``shape_pairs``). Training runs in chunks of
``chunk_minutes``: after each it saves a checkpoint (model, optimiser, step, random state,
history) atomically and validates, so a kill at any moment loses at most the chunk in flight and
``--resume`` goes on from the last one.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from anyseek.model.builtin.network import CAPTION, IMAGE, BuiltinModel
from anyseek.model.builtin.text import WordVocab
from anyseek.model.fourm.imagenet import normalize_images
from anyseek.model.runtime.precision import native_bf16
from anyseek.scenes.captions import object_phrases
from anyseek.scenes.tensors import PIXEL_INPUTS
from anyseek.workbench.attributes import AttributeHead, attribute_loss, conjunction_labels
from anyseek.workbench.cache import TrainingSet
from anyseek.workbench.cells import CellHead, cell_labels, cell_loss
from anyseek.workbench.colours import colour_rows, shape_pairs
from anyseek.workbench.contrastive import info_nce, one_way_nce
from anyseek.workbench.cross import batch_cross_loss, pairs_of, second_kinds
from anyseek.workbench.negatives import binding_negative
from anyseek.workbench.partial import partial_caption
from anyseek.workbench.placement import objects_moved, page_shaped
from anyseek.workbench.presence import (
    encode_scenes,
    fits,
    initial_presence,
    presence_loss,
    trusted_rows,
)
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.twins import (
    check_twin_rows,
    image_rows,
    same_scene,
    twin_index,
)

DRAWN = ("sketch", "semseg")  # pixel modalities a person draws

#: a recipe's ``attention`` -> the kernels the text tower's attention may use while training. The
#: fused (flash) CPU kernel's backward is slow over captions this short, so recipes train through
#: plain matmuls (``lab/results/train_pace_amx.md`` times both); serving keeps torch's choice.
ATTENTION: dict[str, list[SDPBackend]] = {
    "math": [SDPBackend.MATH],
    "auto": [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH],
}


def shifted(x: torch.Tensor, amount: float = 0.08, nearest: bool = True) -> torch.Tensor:
    """Each map [B, C, S, S] moved and resized a little (a person's memory of a layout)."""
    b = x.shape[0]
    scale = torch.empty(b).uniform_(0.85, 1.18)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = torch.empty(b, 2).uniform_(-2 * amount, 2 * amount)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    mode = "nearest" if nearest else "bilinear"
    return F.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=False)


def warped(x: torch.Tensor, amount: float, cells: int = 4) -> torch.Tensor:
    """Each map [B, C, S, S] bent by a smooth random displacement field: the parts of a drawing
    move apart from each other (a person remembers each object's place on its own), unlike
    :func:`shifted`, which moves the whole drawing. ``amount``: the displacement's standard
    deviation as a share of the page; ``cells``: how many independent moves across a side."""
    b, _, size, _ = x.shape
    coarse = torch.randn(b, 2, cells, cells) * (2 * amount)  # grid coordinates span 2
    field = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    identity = F.affine_grid(torch.eye(2, 3).expand(b, 2, 3), list(x.shape), align_corners=False)
    grid = identity + field.permute(0, 2, 3, 1)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="border", align_corners=False)


def moved(name: str, x: torch.Tensor, move: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """A spatial ``move`` of [B, C, S, S] maps applied to a sketch as it is, or to a segmentation's
    class map [B, S, S] as one channel (nearest sampling keeps its classes whole)."""
    if name == "sketch":
        return move(x)
    return move(x[:, None].float())[:, 0].long()


@dataclass
class Batcher:
    """Makes training batches from the rendered set, by the recipe's shares."""

    data: TrainingSet
    vocab: WordVocab
    recipe: TrainRecipe
    queries: tuple[str, ...]  # pixel query modalities
    rng: random.Random = field(default_factory=random.Random)
    objects: torch.Tensor | None = None  # [N, M, 4] scene objects' codes, when a loss asks them
    # drawn modalities read from their content's box (``data.input_settings``): never shifted on
    # the fly, since search's box undoes where a drawing sits and how large it is
    boxed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        r = self.recipe
        labels = (r.presence_weight, r.object_positives, r.object_rows, r.attribute_weight)
        wanted = any((*labels, r.cell_weight))
        if wanted and self.objects is None:  # once, not per batch
            self.objects = encode_scenes(self.data.scenes.scenes)
        if r.same_person_pairs:
            self._check_same_person_pairs()
        if r.shape_pairs > 0 and r.cross_weight <= 0:  # its captions would be embedded unread
            raise ValueError("shape_pairs needs the cross-pair loss (cross_weight > 0)")
        if r.twin_rows:
            check_twin_rows(r.batch, r.cross_second, r.same_person_pairs)
        if r.cell_weight > 0 and self.data.occupied is None:
            raise ValueError("cell_weight needs a training set rendered with objects' cells; "
                             "render it again (delete the run's cache folder)")  # fmt: skip

    def _check_same_person_pairs(self) -> None:
        """Refuse ``same_person_pairs`` where it would change nothing: no pixel pairs trained,
        no sketches and paintings, or no pair of the two."""
        r = self.recipe
        if r.cross_weight <= 0:
            raise ValueError("same_person_pairs needs the cross-pair loss (cross_weight > 0)")
        if not set(DRAWN) <= set(self.queries):
            raise ValueError("same_person_pairs needs a model that takes sketches and paintings")
        if not {DRAWN, DRAWN[::-1]} & set(pairs_of(r.cross_pairs, self.queries)):
            raise ValueError("same_person_pairs needs the sketch and semseg pair in cross_pairs")

    def people(self, size: int) -> list[str | None]:
        """Each row's person (None: the generator's drawing), ``p_drawn`` of them a person's."""
        styles = list(self.data.drawings)
        return [
            self.rng.choice(styles) if self.rng.random() < self.recipe.p_drawn else None
            for _ in range(size)
        ]

    def pixel_rows(
        self, name: str, index: torch.Tensor, people: list[str | None] | None = None
    ) -> torch.Tensor:
        """One modality's inputs for these scenes; drawings from a random person for some (or,
        given ``people``, from each row's person)."""
        scenes = self.data.scenes
        x = PIXEL_INPUTS[name](scenes, index)
        if name not in DRAWN or not self.data.drawings:
            return x
        drawn_rows = []
        for row, person in enumerate(self.people(len(index)) if people is None else people):
            if person is None:
                continue
            drawn = self.data.drawings[person]
            i = int(index[row])
            x[row] = drawn.sketch[i].float()[None] * 2 - 1 if name == "sketch" else drawn.semseg[i]
            drawn_rows.append(row)
        x = self.placed(name, x, drawn_rows)
        if name not in self.boxed and self.rng.random() < self.recipe.p_shift:
            x = moved(name, x, lambda m: shifted(m, self.recipe.shift))
        if self.rng.random() < self.recipe.p_warp:
            x = moved(name, x, lambda m: warped(m, self.recipe.warp))
        return x

    def placed(self, name: str, x: torch.Tensor, drawn_rows: list[int]) -> torch.Tensor:
        """Some of a batch's drawn rows with their objects moved and resized one by one, some
        squeezed onto a page of another shape (``anyseek.workbench.placement``)."""
        r = self.recipe
        rows = [row for row in drawn_rows if self.rng.random() < r.p_place] if r.p_place else []
        if rows:
            x[rows] = objects_moved(x[rows], name, r.place_shift, r.place_size)
        page = 0.0 if name in self.boxed else r.p_page
        rows = [row for row in drawn_rows if self.rng.random() < page] if page else []
        if rows:
            x[rows] = moved(name, x[rows], lambda m: page_shaped(m, r.page_aspect))
        return x

    def caption(self, i: int) -> str:
        """One training caption of scene ``i``, for a ``p_partial_caption`` share of scene
        captions with some words left out."""
        text = self._caption(i)
        share = self.recipe.p_partial_caption
        # off, no extra draw: a recipe without the lever sees the captions it saw before it
        if share > 0 and not text.startswith(OBJECT) and self.rng.random() < share:
            return partial_caption(text, self.recipe.partial_drop, self.rng)
        return text

    def _caption(self, i: int) -> str:
        """One training caption of scene ``i``, as the recipe's shares pick it."""
        roll = self.rng.random()
        phrasings = self.data.scenes.captions[i]
        if roll < self.recipe.p_object_caption:
            return OBJECT + self.rng.choice(object_phrases(phrasings[0]) or [phrasings[0]])
        roll -= self.recipe.p_object_caption
        if roll < self.recipe.p_drawn_caption and self.data.drawings:
            style = self.rng.choice(list(self.data.drawings))
            return self.data.drawings[style].captions[i]
        return phrasings[0] if self.rng.random() < 0.4 else self.rng.choice(phrasings)

    def query_kinds(self, size: int) -> torch.Tensor:
        """[size] index into ``queries``: each row's pixel query, by the recipe's weights."""
        weights = self.recipe.query_weights
        if not weights:
            return torch.randint(len(self.queries), (size,))
        share = torch.tensor([float(weights.get(q, 1.0)) for q in self.queries])
        return torch.multinomial(share, size, replacement=True)

    def groups(
        self, kinds: torch.Tensor, index: torch.Tensor, people: list[str | None] | None = None
    ) -> dict[str, Any]:
        """Pixel query modality -> (its rows, their inputs), for each row's kind (-1: none);
        drawn rows by each row's person when ``people`` names them, else by a random one."""
        groups = {}
        for k, name in enumerate(self.queries):
            rows = (kinds == k).nonzero().flatten()
            if len(rows):
                whose = None if people is None else [people[r] for r in rows.tolist()]
                groups[name] = (rows, self.pixel_rows(name, index[rows], whose))
        return groups

    def paired_drawings(
        self, first: torch.Tensor, second: torch.Tensor, people: list[str | None]
    ) -> tuple[torch.Tensor, list[str | None]]:
        """``same_person_pairs``: each row whose first query is a person's sketch (painting)
        and that has a second query gets that person's painting (sketch) as it; every other
        second query is drawn as before. Returns the second kinds and each row's person."""
        second = second.clone()
        whose = self.people(len(first))
        other = {self.queries.index(a): self.queries.index(b) for a, b in (DRAWN, DRAWN[::-1])}
        for row, (kind, more) in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
            if kind in other and more >= 0 and people[row] is not None:
                second[row], whose[row] = other[kind], people[row]
        return second, whose

    def batch(self, size: int) -> dict[str, Any]:
        """Images, pixel queries grouped by modality (with their rows), caption word rows."""
        twins = self.recipe.twin_rows
        index = (
            twin_index(len(self.data), size) if twins else torch.randint(len(self.data), (size,))
        )
        same = same_scene(index) if twins else None  # [B, B]: rows of one scene (twin rows)
        kinds = self.query_kinds(size)
        # each row's person, for both its queries, when the pairs ask for one person's drawings
        people = self.people(size) if self.recipe.same_person_pairs else None
        groups = self.groups(kinds, index, people)
        second = None  # a second pixel query on some rows, for the cross-pair loss's pixel pairs
        if self.recipe.cross_weight > 0:
            pairs = pairs_of(self.recipe.cross_pairs, self.queries)
            more = second_kinds(kinds, pairs, self.queries, self.recipe.cross_second)
            whose = None
            if people is not None:
                more, whose = self.paired_drawings(kinds, more, people)
            second = self.groups(more, index, whose) or None
        captions = [self.caption(int(i)) for i in index]
        positives = None
        if self.recipe.object_positives and any(c.startswith(OBJECT) for c in captions):
            positives = fitting(captions, self.objects[index])
        if same is not None:  # a twin's caption fits its scene's image on both rows
            positives = same if positives is None else positives | same
        texts = [c.removeprefix(OBJECT) for c in captions]
        negatives = self.binding_negatives(texts, index)
        named, named_fit = self.object_rows(index)
        coloured, coloured_fit = colour_rows(
            self.data.scenes.captions, index, self.recipe.colour_rows, self.rng
        )
        shaped, shaped_rows = shape_pairs(texts, self.recipe.shape_pairs, self.rng)
        presence = None
        if self.recipe.presence_weight > 0:
            labels = fits(texts, self.objects[index])
            presence = (labels, trusted_rows(texts, labels))
        attributes = None
        if self.recipe.attribute_weight > 0:
            attributes = conjunction_labels(self.objects[index])
        cells = None
        if self.recipe.cell_weight > 0:
            cells = cell_labels(self.objects[index], self.data.occupied[index])
        return {
            # each scene's image once: twin rows share one (``image_rows`` says whose)
            "rgb": normalize_images(self.data.scenes.rgb[index[::2] if twins else index]),
            "image_rows": image_rows(size) if twins else None,
            "same": same,
            "groups": groups,
            # the captions, negatives, one-object rows, colour rows, then shape captions
            "words": self.vocab.batch(texts + negatives + named + coloured + shaped),
            "negatives": len(negatives),
            "objects": named_fit,  # [E, B] bool: which scenes each extra one-object row fits
            "colours": coloured_fit,  # [C, B] bool: which rows show each colour row's scene
            "shapes": shaped_rows,  # [S]: which caption rows show a shape caption in map pairs
            "positives": positives,
            "presence": presence,
            "attributes": attributes,
            "cells": cells,
            "second": second,
        }

    def object_rows(self, index: torch.Tensor) -> tuple[list[str], torch.Tensor | None]:
        """For an ``object_rows`` share of the scenes, one of their objects' phrase as an extra
        caption row, and [E, B] which of the batch's scenes have that object."""
        if self.recipe.object_rows <= 0:
            return [], None
        named = []
        for i in index.tolist():
            if self.rng.random() < self.recipe.object_rows:
                phrases = object_phrases(self.data.scenes.captions[i][0])
                if phrases:
                    named.append(self.rng.choice(phrases))
        if not named:
            return [], None
        fit = fits(named, self.objects[index])
        keep = fit.any(1)  # a phrase no scene fits (not even its own) is left out
        named = [n for n, k in zip(named, keep.tolist(), strict=True) if k]
        return (named, fit[keep]) if named else ([], None)

    def binding_negatives(self, texts: list[str], index: torch.Tensor) -> list[str]:
        """For a ``binding_negatives`` share of the rows, its caption one attribute away from
        true (``anyseek.workbench.negatives``): captions its image must rank below its own."""
        share = self.recipe.binding_negatives
        if share <= 0:
            return []
        scenes = self.data.scenes.scenes
        out = []
        for text, i in zip(texts, index.tolist(), strict=True):
            if self.rng.random() < share:
                negative = binding_negative(text, scenes[i], self.rng)
                if negative is not None:
                    out.append(negative)
        return out


OBJECT = "\x00"  # marks a one-object caption inside a batch (removed before encoding)


def fitting(captions: list[str], objects: torch.Tensor) -> torch.Tensor:
    """[B, B] bool: caption i is scene i's, or names one object that scene j has too
    (``objects``: the batch's scenes as ``anyseek.workbench.presence.encode_scenes`` codes)."""
    out = torch.eye(len(captions), dtype=torch.bool)
    rows = [i for i, c in enumerate(captions) if c.startswith(OBJECT)]
    if rows:  # only a one-object caption's row is asked: a whole caption fits its own scene
        out[rows] |= fits([captions[i].removeprefix(OBJECT) for i in rows], objects)
    return out


def lr_at(step: int, recipe: TrainRecipe) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class TrainState:
    """What a checkpoint holds."""

    model: BuiltinModel
    optimizer: torch.optim.Optimizer
    log_scale: torch.nn.Parameter
    presence: torch.nn.Parameter  # the presence loss's own log scale and bias
    step: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    attributes: AttributeHead | None = None  # the auxiliary head, when the recipe weighs it
    cells: CellHead | None = None  # the image grid's cell head, when the recipe weighs it
    bf16: bool = field(default_factory=native_bf16)  # this CPU runs bfloat16 autocast natively


def new_state(model: BuiltinModel, recipe: TrainRecipe) -> TrainState:
    """A fresh model's optimiser (no decay on norms, biases and the temperature)."""
    log_scale = torch.nn.Parameter(torch.tensor(math.log(1 / recipe.temperature)))
    presence = torch.nn.Parameter(initial_presence())
    head = AttributeHead(model.config.embed_dim) if recipe.attribute_weight > 0 else None
    cells = CellHead(model.config.widths[-1]) if recipe.cell_weight > 0 else None
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    plain = [p for n, p in model.named_parameters() if p.ndim < 2]
    plain += [log_scale, presence]
    plain += [p for h in (head, cells) if h is not None for p in h.parameters()]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": recipe.weight_decay},
            {"params": plain, "weight_decay": 0.0},
        ],
        lr=recipe.lr,
        betas=(0.9, 0.98),
    )
    return TrainState(model, optimizer, log_scale, presence, attributes=head, cells=cells)


def save_checkpoint(state: TrainState, path: Path, rng: random.Random) -> None:
    """Write the state atomically (a kill mid-write leaves the previous checkpoint whole)."""
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "log_scale": state.log_scale.detach(),
            "presence": state.presence.detach(),
            "attributes": state.attributes.state_dict() if state.attributes is not None else None,
            "cells": state.cells.state_dict() if state.cells is not None else None,
            "step": state.step,
            "seconds": state.seconds,
            "history": state.history,
            "torch_rng": torch.get_rng_state(),
            "rng": rng.getstate(),
        },
        tmp,
    )
    tmp.replace(path)


def load_checkpoint(state: TrainState, path: Path, rng: random.Random) -> TrainState:
    """Restore a checkpoint into ``state`` (and the random generators)."""
    data = torch.load(path, weights_only=False)
    state.model.load_state_dict(data["model"])
    state.optimizer.load_state_dict(data["optimizer"])
    with torch.no_grad():
        state.log_scale.copy_(data["log_scale"])
        if "presence" in data:  # checkpoints from before the presence loss lack it
            state.presence.copy_(data["presence"])
    if state.attributes is not None:
        state.attributes.load_state_dict(data["attributes"])
    if state.cells is not None:
        state.cells.load_state_dict(data["cells"])
    state.step, state.seconds, state.history = data["step"], data["seconds"], data["history"]
    torch.set_rng_state(data["torch_rng"])
    rng.setstate(data["rng"])
    return state


def train_step(state: TrainState, batch: dict[str, Any], recipe: TrainRecipe) -> dict[str, float]:
    """One optimiser step; returns the losses."""
    model = state.model
    for group in state.optimizer.param_groups:
        group["lr"] = lr_at(state.step, recipe)
    bf16 = recipe.bf16 and state.bf16
    with (
        torch.autocast("cpu", torch.bfloat16, enabled=bf16),
        sdpa_kernel(ATTENTION[recipe.attention]),
    ):
        images, grid = model.embed_images_and_grid(batch["rgb"])
        if batch.get("image_rows") is not None:  # twin rows: each image on both its rows
            images, grid = images[batch["image_rows"]], grid[batch["image_rows"]]
        names = list(batch["groups"])
        rows = torch.cat([batch["groups"][n][0] for n in names])
        queries = model.embed_mixed(names, {n: batch["groups"][n][1] for n in names})
        words = model.embed_text(batch["words"])  # [B + K + E + C + S, D]: Batcher.batch's order
        second = None
        if batch.get("second"):
            more = list(batch["second"])
            second = model.embed_mixed(more, {n: batch["second"][n][1] for n in more})
    named_fit, colour_fit = batch.get("objects"), batch.get("colours")
    extra_rows = 0 if named_fit is None else len(named_fit)
    words, shaped = _tail(words, batch.get("shapes"))
    words, coloured = _tail(words, colour_fit)
    texts, negatives = words[: len(images)], words[len(images) : len(words) - extra_rows]
    scale = state.log_scale.exp()
    same = batch.get("same")
    pixel_loss = info_nce(
        queries, images[rows], scale, None if same is None else same[rows][:, rows]
    )
    extra = negatives if len(negatives) else None
    named = words[len(words) - extra_rows :]
    both_ways = named_fit is not None and recipe.object_rows_both_ways
    if both_ways:  # the object rows are caption rows of the text loss, both ways
        own = batch.get("positives")
        own = torch.eye(len(texts), dtype=torch.bool) if own is None else own
        rows, fit = torch.cat([texts, named]), torch.cat([own, named_fit])
        text_loss = info_nce(rows, images, scale, fit, extra)
    else:
        text_loss = info_nce(texts, images, scale, batch.get("positives"), extra)
    loss = pixel_loss + text_loss
    out = {"pixel": float(pixel_loss.detach()), "text": float(text_loss.detach())}
    if named_fit is not None and not both_ways:
        object_loss = one_way_nce(named, images, scale, named_fit)
        loss = loss + recipe.object_weight * object_loss
        out["objects"] = float(object_loss.detach())
    if colour_fit is not None:  # each picks its image; unless asked, the images stay put
        seen = images if recipe.colour_rows_images else images.detach()
        colour_loss = one_way_nce(coloured, seen, scale, colour_fit)
        loss = loss + recipe.object_weight * colour_loss
        out["colours"] = float(colour_loss.detach())
    if batch.get("presence") is not None:
        labels, trusted = batch["presence"]
        log_scale, bias = state.presence[0], state.presence[1]
        fit_loss = presence_loss(texts[trusted], images, labels[trusted], log_scale.exp(), bias)
        loss = loss + recipe.presence_weight * fit_loss
        out["presence"] = float(fit_loss.detach())
    if batch.get("attributes") is not None and state.attributes is not None:
        head_loss = attribute_loss(state.attributes(images), batch["attributes"])
        loss = loss + recipe.attribute_weight * head_loss
        out["attributes"] = float(head_loss.detach())
    if batch.get("cells") is not None and state.cells is not None:
        grid_loss = cell_loss(state.cells(grid), batch["cells"])
        loss = loss + recipe.cell_weight * grid_loss
        out["cells"] = float(grid_loss.detach())
    if recipe.cross_weight > 0:
        said = texts if shaped is None else texts.index_copy(0, batch["shapes"], shaped)
        pair_loss = batch_cross_loss(batch, queries, second, said, scale, recipe.cross_pairs)
        if pair_loss is not None:
            loss = loss + recipe.cross_weight * pair_loss
            out["cross"] = float(pair_loss.detach())
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    with torch.no_grad():
        state.log_scale.clamp_(0, math.log(100))
        state.presence[0].clamp_(0, math.log(100))
    state.step += 1
    return out


def _tail(words: torch.Tensor, part: torch.Tensor | None) -> tuple[torch.Tensor, Any]:
    """``words`` [N, D] split before its last ``len(part)`` rows (None: no rows, no tail)."""
    count = 0 if part is None else len(part)
    return words[: len(words) - count], (words[len(words) - count :] if count else None)


def train_chunks(
    state: TrainState,
    batcher: Batcher,
    recipe: TrainRecipe,
    checkpoint: Path,
    *,
    validate: Callable[[BuiltinModel], dict[str, float]],
    log: Callable[[str], None] = print,
    max_chunks: int | None = None,
) -> TrainState:
    """Train until ``recipe.steps``, checkpointing and validating every ``chunk_minutes``."""
    from tqdm import tqdm

    bar = tqdm(total=recipe.steps, initial=state.step, unit="step", desc="train", smoothing=0.05)
    chunks = 0
    while state.step < recipe.steps and (max_chunks is None or chunks < max_chunks):
        started, losses = time.monotonic(), []
        state.model.train()
        while state.step < recipe.steps:
            losses.append(train_step(state, batcher.batch(recipe.batch), recipe))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]['pixel']:.2f}/{losses[-1]['text']:.2f}")
            if time.monotonic() - started > recipe.chunk_minutes * 60:
                break
        state.seconds += time.monotonic() - started
        state.model.eval()
        metrics = validate(state.model)
        record = {
            "step": state.step,
            "minutes": round(state.seconds / 60, 2),
            "pixel_loss": round(sum(x["pixel"] for x in losses) / len(losses), 4),
            "text_loss": round(sum(x["text"] for x in losses) / len(losses), 4),
            **{
                f"{part}_loss": round(sum(had) / len(had), 4)
                for part in ("presence", "attributes", "cells", "cross", "objects", "colours")
                if (had := [x[part] for x in losses if part in x])
            },
            "temperature": round(float(1 / state.log_scale.detach().exp()), 4),
            **metrics,
        }
        state.history.append(record)
        save_checkpoint(state, checkpoint, batcher.rng)
        left = (recipe.steps - state.step) * state.seconds / max(1, state.step) / 60
        log(f"chunk {len(state.history)}: {json.dumps(record)}; ETA {left:.1f} min")
        chunks += 1
    bar.close()
    return state


__all__ = ["CAPTION", "IMAGE", "Batcher", "TrainState", "new_state", "train_chunks"]
