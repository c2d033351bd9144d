"""open_clip models (CLIP, SigLIP, multilingual CLIP, ...) through open-clip-torch itself: the
``anyseek[clip]`` extra. Imports nothing of open_clip until a model is loaded."""

from anyseek.model.families.open_clip.search import OpenClipSearchModel, load_open_clip_search_model
from anyseek.model.families.open_clip.sources import ClipSource, is_open_clip_source, resolve

__all__ = [
    "ClipSource",
    "OpenClipSearchModel",
    "is_open_clip_source",
    "load_open_clip_search_model",
    "resolve",
]
