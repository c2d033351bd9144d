"""Training recipes of the built-in model: one JSON file each in ``anyseek/workbench/recipes``.

A recipe names the model variant (``model/builtin/configs``), the scenes it renders and which
people draw them, the held-out gallery it validates on after every chunk, and the schedule.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from anyseek.workbench.cross import check_cross_pairs
from anyseek.workbench.styles import training_styles

RECIPES = Path(__file__).parent / "recipes"


@dataclass(frozen=True)
class DataRecipe:
    """The training scenes: how many, from which seed, at what size, drawn by whom."""

    scenes: int = 20_000
    seed: int = 0
    size: int = 64
    styles: tuple[str, ...] = ("default", "tidy", "rough", "loose")
    chunk: int = 1000
    workers: int = 2
    # input base -> transform setting -> value, where the bundle reads an input otherwise than
    # the built-in definition does; the drawings are rendered with it and the bundle declares
    # it, e.g. {"sketch": {"content_box": true, "box_margin": 0.06}}: a sketch read from the
    # square around its lines (``anyseek.model.transforms.edges.content_square``); empty: as defined
    input_settings: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ValRecipe:
    """The held-out gallery validated on after every chunk (never trained on)."""

    scenes: int = 1000
    seed: int = 777_001
    styles: tuple[str, ...] = ("default", "scrawl")


#: what ``TrainRecipe.attention`` may name (``anyseek.workbench.train.ATTENTION`` maps each to
# kernels)
ATTENTION_KERNELS = ("math", "auto")


@dataclass(frozen=True)
class TrainRecipe:
    """The optimisation: steps, batch, learning rate, what each row of a batch shows."""

    steps: int = 6000
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: int = 200
    temperature: float = 0.07  # initial; learned
    p_drawn: float = 0.6  # a sketch or segmentation row is a person's drawing, not the generator's
    p_shift: float = 0.5  # a drawing is shifted and resized a little more on the fly
    shift: float = 0.08  # how far: up to twice this share of the page each way
    p_warp: float = 0.0  # a drawing's parts are moved apart on the fly (workbench.train.warped)
    warp: float = 0.06  # how far: the displacement's standard deviation, a share of the page
    # a person's drawing has each object moved and resized by itself on the fly
    # (workbench.placement.objects_moved): this share of drawn rows, each object shifted by a
    # normal of std ``place_shift`` of the page and scaled by exp(normal(0, ``place_size``))
    p_place: float = 0.0
    place_shift: float = 0.06
    place_size: float = 0.2
    # a person's drawing squeezed as if drawn on a page of another shape
    # (workbench.placement.page_shaped): this share of drawn rows, width / height log-uniform
    # in ``page_aspect``
    p_page: float = 0.0
    page_aspect: tuple[float, float] = (0.45, 2.2)
    p_object_caption: float = 0.15  # a caption row names one object only
    p_drawn_caption: float = 0.35  # a caption row is a person's words
    # a share of scene caption rows with each word left out with probability ``partial_drop``
    # (workbench.partial: a caption as it reads when search cannot read some of a person's
    # words); 0: off
    p_partial_caption: float = 0.0
    partial_drop: float = 0.4
    # pixel query modality -> weight of its share of rows (unnamed: 1); empty: every one alike
    query_weights: dict[str, float] = field(default_factory=dict)
    object_positives: bool = False  # a one-object caption's positives: every scene with it
    # share of a batch's scenes that also bring an extra caption row naming one of their objects,
    # *beside* their caption (not in its place, as ``p_object_caption`` is); each such row picks
    # among the batch's images, every scene with the object a positive (workbench.train's
    # object term); 0: off
    object_rows: float = 0.0
    # share of a batch's scenes that also bring an extra caption row of their short caption's
    # colours only, every shape, size and material word left out (workbench.colours: how a
    # caption in everyday words reads); it picks among the batch's images, its own scene the
    # positive, one way, weighed as the object term; 0: off
    colour_rows: float = 0.0
    # the colour rows' term moves the image tower too; False: the text tower only learns to
    # place them among the images as they are (moving the images cost drawings in an arm:
    # lab/results/levers_colour.md)
    colour_rows_images: bool = False
    object_weight: float = 1.0  # the object term's weight (the colour rows' too)
    # share of caption rows that, in the caption's pairs with maps (``cross_pairs``), show their
    # caption with its colour and material words left out (workbench.colours.shape_caption: what
    # a map shows of it) in the caption's place; 0: off
    shape_pairs: float = 0.0
    # the object rows join the caption loss both ways instead of the one-way object term: each
    # still picks among the images, and each image also picks among its caption and the object
    # rows it fits (how ``p_object_caption``'s rows train: here as extra rows, not in the
    # captions' place)
    object_rows_both_ways: bool = False
    # weight of the presence loss (workbench.presence: every caption against every image of the
    # batch, labelled by whether the scene has what the caption states); 0: off
    presence_weight: float = 0.0
    # weight of the attribute head's loss (workbench.attributes: which objects, as conjunctions
    # of shape, colour, size and material, the scene has, read off its image vector); 0: off
    attribute_weight: float = 0.0
    # weight of the cell head's loss (workbench.cells: which objects, as the same conjunctions,
    # each cell of the image trunk's last grid holds); 0: off
    cell_weight: float = 0.0
    # share of caption rows that also get a binding negative (workbench.negatives: the caption
    # one attribute away from true, which its image must rank below its own); 0: off
    binding_negatives: float = 0.0
    # weight of the cross-pair loss (workbench.cross: InfoNCE between two non-rgb modalities of
    # the same scenes, a caption and a depth map, a sketch and a segmentation, not through the
    # image); 0: off
    cross_weight: float = 0.0
    # the pairs it trains, e.g. [["caption", "depth"], ["sketch", "semseg"]]; empty: every pair
    # of the caption and the pixel queries
    cross_pairs: tuple[tuple[str, str], ...] = ()
    # share of the rows that show a second pixel query, for the pixel pairs (one more pass of
    # those rows through the trunk); caption pairs need none
    cross_second: float = 0.5
    # a row whose first query is a person's sketch or painting and that shows a second pixel
    # query shows that person's other drawing of the scene as it: the sketch and painting pair
    # then shares one placement of the objects, so what it teaches the sketch is what the
    # painting shows by colour (which shape is where), not where a second person put things
    same_person_pairs: bool = False
    # each scene of a batch on two neighbouring rows (workbench.twins): its image embedded once
    # for both, the two rows' pixel queries a cross pair without a second trunk pass (needs
    # cross_second 0)
    twin_rows: bool = False
    # bfloat16 autocast where the CPU has it natively and a timed step is faster in it
    # (workbench.pace); False: float32 always
    bf16: bool = True
    # the text tower's attention while training (workbench.train.ATTENTION): "math", plain
    # matmuls, or "auto", torch's choice (a fused kernel on a CPU, slower to train through here:
    # lab/results/train_pace_amx.md)
    attention: str = "math"
    chunk_minutes: float = 8.0  # checkpoint and validate this often
    # a built-in bundle to start from ("builtin": the shipped one), its weights and its
    # vocabulary, instead of from nothing: how a lever pulls a model already at the end of
    # a full run (lab/levers.py's warm arms); empty: from nothing
    start_from: str = ""
    threads: int = 2
    seed: int = 0


@dataclass(frozen=True)
class Recipe:
    """Everything one ``anyseek train default`` run does."""

    name: str
    model: str = "default"
    # the built-in design's generation this recipe trains (``v10``); the bundle and its card
    # carry it (``bundle.json``), so no code names it; empty for trial recipes
    generation: str = ""
    vocab: int = 512
    data: DataRecipe = field(default_factory=DataRecipe)
    val: ValRecipe = field(default_factory=ValRecipe)
    train: TrainRecipe = field(default_factory=TrainRecipe)

    def to_json(self) -> dict[str, Any]:
        """The recipe as written to the run folder and the bundle."""
        return asdict(self)


def _section(cls: type, data: dict[str, Any]) -> Any:
    """A recipe section from JSON (lists become tuples); unknown keys are an error."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown}; known: {sorted(known)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def load_recipe(name: str) -> Recipe:
    """A shipped recipe by name (``default``, ``tiny``) or a JSON file of one's own."""
    path = Path(name)
    if not path.suffix:
        path = RECIPES / f"{name}.json"
    if not path.is_file():
        shipped = sorted(p.stem for p in RECIPES.glob("*.json"))
        raise ValueError(f"no recipe {name!r}: choose one of {shipped} or a .json file")
    raw = json.loads(path.read_text())
    recipe = Recipe(
        name=raw.get("name", path.stem),
        model=raw.get("model", "default"),
        generation=str(raw.get("generation", "")),
        vocab=int(raw.get("vocab", 512)),
        data=_section(DataRecipe, raw.get("data", {})),
        val=_section(ValRecipe, raw.get("val", {})),
        train=_section(TrainRecipe, raw.get("train", {})),
    )
    training_styles(recipe.data.styles)
    check_query_weights(recipe.train.query_weights)
    if recipe.train.attention not in ATTENTION_KERNELS:
        raise ValueError(
            f"train.attention: {recipe.train.attention!r} is not one of {list(ATTENTION_KERNELS)}"
        )
    pairs = check_cross_pairs(recipe.train.cross_pairs)  # JSON's lists as tuples
    recipe = replace(recipe, train=replace(recipe.train, cross_pairs=pairs))
    check_input_settings(recipe.data.input_settings, recipe.data.size)
    return recipe


def check_input_settings(settings: dict[str, dict[str, Any]], size: int) -> None:
    """A ValueError unless every setting names an input of the built-in model and a setting its
    transform takes, with a value it accepts."""
    from anyseek.model.bundle.declarations import DeclarationError, declare, input_transform
    from anyseek.model.bundle.definition import BUILTIN
    from anyseek.model.transforms import UserInputError

    if not settings:
        return
    if not isinstance(settings, dict) or not all(isinstance(v, dict) for v in settings.values()):
        raise ValueError(f"input_settings: expected {{input: {{setting: value}}}}, got {settings}")
    try:
        declared = declare(BUILTIN.domains_in(size), [], settings=settings)
        for spec in declared.inputs.values():
            input_transform(spec, declared.palette)
    except (TypeError, ValueError, UserInputError, DeclarationError) as exc:
        raise ValueError(f"input_settings: {exc}") from None


def check_query_weights(weights: dict[str, float]) -> None:
    """A ValueError unless every weight names a pixel query modality, none is negative and
    some query keeps a share (an unnamed one weighs 1)."""
    from anyseek.scenes.tensors import PIXEL_INPUTS

    queries = sorted(set(PIXEL_INPUTS) - {"rgb"})
    unknown = sorted(set(weights) - set(queries))
    if unknown:
        raise ValueError(f"query_weights: unknown modalities {unknown}; known: {queries}")
    negative = sorted(k for k, w in weights.items() if not float(w) >= 0)
    if negative:
        raise ValueError(f"query_weights: weights of {negative} must be 0 or more")
    if not any(float(weights.get(q, 1.0)) > 0 for q in queries):
        raise ValueError("query_weights: every pixel query weighs 0; one must weigh more")
