"""The model as the command line's data, demo, eval and train commands see it.

Scene generation, the built-in bundle, retrieval evaluation and the training pipeline, behind one
module so that ``anyseek.cli`` reaches ``model/`` through declared names only (``make lint``
refuses any other ``model`` import from above). The service layers use ``model.service``.
"""

from __future__ import annotations

from model.bundle.loading import load_bundle
from model.data.contact_sheet import contact_sheet
from model.data.dataset import MANIFEST, SceneReader, file_stem
from model.data.sample import generate_scene
from model.data.synth import SynthRequest, scene_seed, synthesize
from model.data.tensors import from_samples
from model.eval.human import beside, evaluate_human
from model.eval.retrieval import evaluate_retrieval, write_report
from model.inference.predict import DECODE_MODES
from model.train.pipeline import Run, run_pipeline
from model.train.recipe import load_recipe

__all__ = [
    "DECODE_MODES",
    "MANIFEST",
    "Run",
    "SceneReader",
    "SynthRequest",
    "beside",
    "contact_sheet",
    "evaluate_human",
    "evaluate_retrieval",
    "file_stem",
    "from_samples",
    "generate_scene",
    "load_bundle",
    "load_recipe",
    "run_pipeline",
    "scene_seed",
    "synthesize",
    "write_report",
]
