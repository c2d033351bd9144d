"""Query parts -> model inputs through the transforms the loaded model declares, and a short,
showable summary of what the model was given (for ``explain``).

Every failure names the modality: "sketch: the sketch is empty: no lines found". Every file is
checked against the query pixel limit before any pixel is allocated: images by their header
(Pillow), ``.npy`` arrays by theirs (shape and dtype, :func:`checked_array`), so a 128-byte file
that declares a 37 GiB array is refused in microseconds, alone, with a 4xx.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from anyseek.errors import AnyseekError
from anyseek.model.service import MAX_PIXELS, NUMPY_MAGIC, SearchModel, open_image
from anyseek.search.query import QueryPart, SearchInputError


def decoded(value: Any, max_pixels: int) -> Any:
    """A query file (path or bytes) decoded under the pixel limit; other values as they are.

    Images are opened here with the query pixel limit (``ANYSEEK_API__MAX_QUERY_PIXELS``) before
    the model's transform reads them; ``.npy`` data is read only after its header passed
    :func:`checked_array`; text passes.
    """
    if isinstance(value, bytes | bytearray) and bytes(value[:6]) == NUMPY_MAGIC:
        return checked_array(io.BytesIO(value), len(value), max_pixels)
    if isinstance(value, str | Path) and str(value).lower().endswith(".npy"):
        if not _is_file(value):
            return value  # the transform says which file is missing
        path = Path(value)
        with path.open("rb") as handle:
            return checked_array(handle, path.stat().st_size, max_pixels)
    if not isinstance(value, bytes | bytearray | Path) and not _is_file(value):
        return value
    return open_image(value, max_pixels)


def checked_array(stream: BinaryIO, size: int, max_pixels: int) -> np.ndarray:
    """A ``.npy`` array read only once its header is known to be safe: a numeric dtype, at most
    ``max_pixels`` elements, and exactly the bytes the header promises (no pickles, no lies)."""
    try:
        version = np.lib.format.read_magic(stream)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(stream)
    except (ValueError, OSError, SyntaxError, TypeError) as exc:
        raise SearchInputError(f"not a readable .npy array ({_first_line(exc)})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise SearchInputError(f"a .npy query array must hold numbers, not {dtype.str!r} values")
    count = math.prod(shape)
    if count > max_pixels:
        raise SearchInputError(
            f"the .npy array has shape {tuple(shape)} ({count / 1e6:.3g} M values); at most "
            f"{max_pixels / 1e6:.3g} M are accepted (ANYSEEK_API__MAX_QUERY_PIXELS): downscale it"
        )
    expected = count * dtype.itemsize
    if size - stream.tell() != expected:
        raise SearchInputError(
            f"the .npy array's header promises {expected:,} bytes of data but the file has "
            f"{max(0, size - stream.tell()):,}"
        )
    data = np.frombuffer(stream.read(expected), dtype=dtype)
    return data.reshape(shape, order="F" if fortran else "C").copy()


def _first_line(exc: BaseException) -> str:
    """An exception's message, first line only and short (never a repr of internals)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _is_file(value: Any) -> bool:
    """A path (or a string naming one) of an existing file (a server-side query file), not a
    caption."""
    if isinstance(value, Path):
        return value.is_file()
    return isinstance(value, str) and len(value) < 4096 and Path(value).is_file()


def model_inputs(
    model: SearchModel, parts: Sequence[QueryPart], max_pixels: int = MAX_PIXELS
) -> dict[str, torch.Tensor]:
    """One model input per part, keyed by modality name."""
    accepted = model.query_modalities
    unknown = [p.modality for p in parts if p.modality not in accepted]
    if unknown:
        raise SearchInputError(
            f"unknown query modality {', '.join(map(repr, unknown))}; the model "
            f"{model.name!r} accepts: {', '.join(accepted)}",
            modality=unknown[0],
        )
    out = {}
    for part in parts:
        try:
            modality = accepted[part.modality]
            value = part.value
            if modality.kind.value == "file":
                value = decoded(value, max_pixels)
            out[part.modality] = modality.transform(value)
        except AnyseekError as exc:
            raise SearchInputError(f"{part.modality}: {exc}", modality=part.modality) from None
        except (TypeError, ValueError) as exc:  # a value of the wrong kind (bytes for a caption)
            raise SearchInputError(
                f"{part.modality}: cannot use a {type(part.value).__name__} here "
                f"({_first_line(exc)})",
                modality=part.modality,
            ) from None
        except Exception as exc:  # any other decoding failure is this query's alone (a 4xx)
            raise SearchInputError(
                f"{part.modality}: the input could not be decoded ({type(exc).__name__})",
                modality=part.modality,
            ) from None
    return out


def query_warnings(model: SearchModel, parts: Sequence[QueryPart]) -> tuple[str, ...]:
    """What the model will not read of the query's parts (``unknown word "teal"``), each once:
    search answers anyway and reports these instead of dropping the words silently."""
    found: list[str] = []
    for part in parts:
        check = model.query_modalities[part.modality].warnings
        for warning in check(part.value) if check is not None else ():
            if warning not in found:
                found.append(warning)
    return tuple(found)


def _lines(x: torch.Tensor) -> dict[str, Any]:
    return {"line_pixels": round(float((x > 0).float().mean()), 4)}


def _depth(x: torch.Tensor) -> dict[str, Any]:
    return {"valid_pixels": round(float((x != 0).float().mean()), 4)}


def _caption(x: torch.Tensor) -> dict[str, Any]:
    """Token ids [L], or word rows [L, 1 + T] (a word id and its letter trigrams): one a word."""
    return {"tokens": int((x[..., 0] != 0).sum() if x.ndim == 2 else (x != 0).sum())}


#: default transform -> what can be shown of its model input (the thinned sketch's ink...)
SUMMARIES: dict[str, Callable[[torch.Tensor], dict[str, Any]]] = {
    "sketch": _lines,
    "edges": _lines,
    "depth": _depth,
    "": _caption,  # text: the caption's tokens
}


def describe_inputs(
    model: SearchModel, inputs: Mapping[str, torch.Tensor], weights: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """Per modality: its weight, input shape and a summary of what the model saw."""
    out = {}
    for name, x in inputs.items():
        kind = model.query_modalities[name].kind
        info: dict[str, Any] = {"weight": weights[name], "shape": list(x.shape)}
        if kind.editor == "paint" and getattr(model, "palette", None) is not None:
            classes = model.palette.classes
            info["classes"] = [classes[int(i)].name for i in torch.unique(x).tolist()]
        if kind.value != "structured":
            info.update(SUMMARIES.get(kind.transform, lambda _: {})(x))
        out[name] = info
    return out


def _warm_up_values() -> dict[str, Any]:
    """A small valid value per default transform, to run every query transform once at start-up
    (structured JSON kinds have no slow import to warm)."""
    import numpy as np
    from PIL import Image

    line = np.full((32, 32), 255, np.uint8)
    line[16, 4:28] = 0
    gradient = np.linspace(1.0, 2.0, 32 * 32, dtype=np.float32).reshape(32, 32)
    return {
        "rgb": Image.new("RGB", (32, 32), (120, 60, 30)),
        "": "a red cube",  # text
        "sketch": Image.fromarray(line),
        "edges": Image.fromarray(255 - line),
        "depth": gradient,
        "semseg": np.zeros((32, 32), np.int64),
        "normal": Image.new("RGB", (32, 32), (128, 128, 255)),
    }


def warm_up(model: SearchModel) -> list[str]:
    """Run every query transform the model declares once (their slow imports happen here, not
    in the first user's query) and one model pass; returns the modalities warmed up."""
    values = _warm_up_values()
    value_of = {
        name: values[q.kind.transform]
        for name, q in model.query_modalities.items()
        if q.kind.value != "structured" and q.kind.transform in values
    }
    warmed = list(value_of)
    inputs = {name: model.query_modalities[name].transform(v) for name, v in value_of.items()}
    for name, x in inputs.items():
        model.embed_query({name: x})
    return warmed
