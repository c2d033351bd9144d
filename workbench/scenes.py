"""The scene world as the command line's data and demo commands see it: generation, the split
folders ``anyseek data synth`` writes, contact sheets (re-exported from ``model.data``)."""

from __future__ import annotations

from model.data.contact_sheet import contact_sheet
from model.data.dataset import MANIFEST, SceneReader, file_stem
from model.data.sample import generate_scene
from model.data.synth import SynthRequest, scene_seed, synthesize

__all__ = [
    "MANIFEST",
    "SceneReader",
    "SynthRequest",
    "contact_sheet",
    "file_stem",
    "generate_scene",
    "scene_seed",
    "synthesize",
]
