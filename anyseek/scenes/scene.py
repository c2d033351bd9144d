"""Typed scene graph of a procedural 3-D scene and its deterministic sampler.

A scene is 2-6 simple shapes resting on a ground plane (world y = 0, y up) in front of a vertical
backdrop, seen by a pinhole camera orbiting the origin and lit by one directional light. Everything
that varies between scenes is drawn from one ``numpy.random.Generator`` seeded by the scene seed, so
the same seed always yields the same scene, on any machine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from anyseek.model.vocabulary.classes import SHAPES  # class-id order (semseg id = 2 + index)

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.78, 0.12, 0.10),
    "orange": (0.93, 0.47, 0.10),
    "yellow": (0.92, 0.80, 0.16),
    "green": (0.20, 0.62, 0.22),
    "cyan": (0.15, 0.70, 0.78),
    "blue": (0.16, 0.30, 0.80),
    "purple": (0.50, 0.22, 0.70),
    "pink": (0.95, 0.50, 0.68),
    "brown": (0.48, 0.30, 0.16),
    "gray": (0.52, 0.52, 0.54),
    "white": (0.92, 0.92, 0.90),
    "black": (0.10, 0.10, 0.11),
}
"""Named object colours (linear RGB in [0, 1]); captions use these names."""

SURFACE_COLORS: dict[str, tuple[float, float, float]] = {
    "light gray": (0.72, 0.72, 0.72),
    "dark gray": (0.32, 0.33, 0.35),
    "beige": (0.80, 0.72, 0.58),
    "sand": (0.76, 0.66, 0.46),
    "pale blue": (0.62, 0.72, 0.82),
    "slate": (0.36, 0.42, 0.50),
    "warm white": (0.90, 0.87, 0.80),
    "olive": (0.50, 0.52, 0.34),
    "terracotta": (0.70, 0.42, 0.32),
    "mint": (0.62, 0.80, 0.70),
}
"""Named floor and backdrop colours."""

SIZES: dict[str, float] = {"small": 0.36, "large": 0.62}
"""Half-extent (world units) of each size class before a +-8 % jitter."""

MATERIALS: tuple[str, ...] = ("matte", "metal")
FLOOR_PATTERNS: tuple[str, ...] = ("plain", "checker", "plain")

FOOTPRINT: dict[str, float] = {
    "cube": math.sqrt(2.0),
    "sphere": 1.0,
    "cylinder": 0.8,
    "cone": 1.0,
    "torus": 1.1,
}
"""Radius of each shape's ground footprint, in units of its half-extent (for non-overlap)."""

MIN_OBJECTS, MAX_OBJECTS = 2, 6
T = TypeVar("T")
LAYOUT_RADIUS = 2.1


@dataclass(frozen=True)
class SceneObject:
    """One shape instance: what it is, what it looks like and where it stands on the floor."""

    shape: str
    color: str
    rgb: tuple[float, float, float]
    size: str
    scale: float  # half-extent in world units
    material: str
    x: float
    z: float
    yaw: float  # rotation about the vertical axis, radians

    @property
    def footprint(self) -> float:
        """Radius of the disc this object covers on the floor."""
        return FOOTPRINT[self.shape] * self.scale


@dataclass(frozen=True)
class Camera:
    """Pinhole camera orbiting ``target``; angles in degrees, distance in world units."""

    azimuth: float
    elevation: float
    distance: float
    fov: float
    target: tuple[float, float, float]


@dataclass(frozen=True)
class Light:
    """One directional light plus a uniform ambient term."""

    azimuth: float
    elevation: float
    ambient: float


@dataclass(frozen=True)
class Surface:
    """A named flat-coloured surface (floor or backdrop), optionally checkered."""

    name: str
    rgb: tuple[float, float, float]
    pattern: str = "plain"


@dataclass(frozen=True)
class Scene:
    """The full scene graph: objects, camera, light, floor and backdrop."""

    seed: int
    objects: tuple[SceneObject, ...]
    camera: Camera
    light: Light
    floor: Surface
    backdrop: Surface
    backdrop_distance: float  # distance from the origin to the backdrop plane, behind the objects

    def to_dict(self) -> dict:
        """JSON-ready nested dict (tuples stay tuples; JSON writes them as lists).

        Built by hand: ``dataclasses.asdict`` deep-copies every leaf and was the slowest part of
        writing a sample.
        """
        return {
            "seed": self.seed,
            "objects": [dict(vars(o)) for o in self.objects],
            "camera": dict(vars(self.camera)),
            "light": dict(vars(self.light)),
            "floor": dict(vars(self.floor)),
            "backdrop": dict(vars(self.backdrop)),
            "backdrop_distance": self.backdrop_distance,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Scene:
        """Inverse of :meth:`to_dict`."""
        return cls(
            seed=int(data["seed"]),
            objects=tuple(SceneObject(**{**o, "rgb": tuple(o["rgb"])}) for o in data["objects"]),
            camera=Camera(**{**data["camera"], "target": tuple(data["camera"]["target"])}),
            light=Light(**data["light"]),
            floor=Surface(**{**data["floor"], "rgb": tuple(data["floor"]["rgb"])}),
            backdrop=Surface(**{**data["backdrop"], "rgb": tuple(data["backdrop"]["rgb"])}),
            backdrop_distance=float(data["backdrop_distance"]),
        )


class Draws:
    """Seeded random draws built only on ``random.Random.random`` (stable across Python versions).

    Scalar draws through numpy cost microseconds each; a scene needs ~60 of them.
    """

    def __init__(self, *key: int) -> None:
        self._random = random.Random(":".join(str(int(k)) for k in key)).random

    def uniform(self, lo: float, hi: float) -> float:
        """A float in [lo, hi)."""
        return lo + (hi - lo) * self._random()

    def index(self, n: int) -> int:
        """An int in [0, n)."""
        return min(n - 1, int(self._random() * n))

    def pick(self, options: Sequence[T]) -> T:
        """One of ``options``."""
        return options[self.index(len(options))]

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self._random() < p


def _jitter_rgb(rng: Draws, rgb: tuple[float, ...], amount: float) -> tuple:
    """A colour close to ``rgb`` so that two red cubes are not pixel-identical."""
    return tuple(round(min(1.0, max(0.0, c + rng.uniform(-amount, amount))), 4) for c in rgb)


def _place(rng: Draws, footprints: list[float], tries: int = 60) -> list[tuple[float, float]]:
    """Floor positions for discs of the given radii that do not overlap (largest first)."""
    placed: list[tuple[float, float, float]] = []
    for radius in footprints:
        for _ in range(tries):
            r = LAYOUT_RADIUS * math.sqrt(rng.uniform(0.0, 1.0))
            a = rng.uniform(0.0, 2.0 * math.pi)
            x, z = r * math.cos(a), r * math.sin(a)
            if all(math.hypot(x - px, z - pz) > radius + pr + 0.08 for px, pz, pr in placed):
                placed.append((x, z, radius))
                break
    return [(x, z) for x, z, _ in placed]


def sample_scene(seed: int) -> Scene:
    """The scene for ``seed``: deterministic, with no two objects sharing colour and shape."""
    rng = Draws(seed, 0x5CE7E)
    n = MIN_OBJECTS + rng.index(MAX_OBJECTS - MIN_OBJECTS + 1)
    color_names = list(COLORS)
    kinds: list[tuple[str, str]] = []
    while len(kinds) < n:
        kind = (rng.pick(SHAPES), rng.pick(color_names))
        if kind not in kinds:
            kinds.append(kind)
    sizes = [rng.pick(list(SIZES)) for _ in kinds]
    scales = [SIZES[s] * rng.uniform(0.92, 1.08) for s in sizes]
    order = sorted(range(n), key=lambda i: -FOOTPRINT[kinds[i][0]] * scales[i])
    positions = _place(rng, [FOOTPRINT[kinds[i][0]] * scales[i] for i in order])
    objects = []
    for i, (x, z) in zip(order, positions, strict=False):
        shape, color = kinds[i]
        objects.append(
            SceneObject(
                shape=shape,
                color=color,
                rgb=_jitter_rgb(rng, COLORS[color], 0.04),
                size=sizes[i],
                scale=round(scales[i], 4),
                material=MATERIALS[1] if rng.chance(0.4) else MATERIALS[0],
                x=round(x, 4),
                z=round(z, 4),
                yaw=round(rng.uniform(0.0, math.pi / 2), 4),
            )
        )
    surfaces = list(SURFACE_COLORS)
    floor_name = rng.pick(surfaces)
    backdrop_name = rng.pick([s for s in surfaces if s != floor_name])
    camera = Camera(
        azimuth=round(rng.uniform(0.0, 360.0), 3),
        elevation=round(rng.uniform(18.0, 42.0), 3),
        distance=round(rng.uniform(6.4, 8.0), 3),
        fov=round(rng.uniform(36.0, 42.0), 3),
        target=(
            round(rng.uniform(-0.3, 0.3), 3),
            round(rng.uniform(0.2, 0.6), 3),
            round(rng.uniform(-0.3, 0.3), 3),
        ),
    )
    light = Light(
        azimuth=round(camera.azimuth + rng.uniform(-110.0, 110.0), 3),
        elevation=round(rng.uniform(35.0, 70.0), 3),
        ambient=round(rng.uniform(0.22, 0.45), 3),
    )
    return Scene(
        seed=int(seed),
        objects=tuple(objects),
        camera=camera,
        light=light,
        floor=Surface(
            floor_name,
            _jitter_rgb(rng, SURFACE_COLORS[floor_name], 0.03),
            rng.pick(FLOOR_PATTERNS),
        ),
        backdrop=Surface(backdrop_name, _jitter_rgb(rng, SURFACE_COLORS[backdrop_name], 0.03)),
        backdrop_distance=round(rng.uniform(3.6, 5.5), 3),
    )
