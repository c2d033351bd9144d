"""The bodies of index jobs, re-index requests and collection versions over HTTP (apart from
``anyseek.api.schemas``, which holds collections, items and searches)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from anyseek.api.schemas import BODY, NAME_PATTERN
from anyseek.indexer.records import MODALITIES

ItemModality = enum.StrEnum("ItemModality", {name: name for name in MODALITIES})  # type: ignore[misc]
"""What an item's part may be: ``rgb`` (a photo), ``caption`` and every other query modality."""


class JobCreate(BaseModel):
    """Index a server-side folder, file or list file (under the allowed roots) into a collection:
    images, files of one other modality, a JSON-lines file of captions, or a manifest of records."""

    model_config = ConfigDict(
        **BODY,
        # a manifest names its modalities in its columns: with it, no other modality is given
        json_schema_extra={
            "if": {"properties": {"manifest": {"const": True}}, "required": ["manifest"]},
            "then": {"properties": {"modality": {"const": "rgb"}}},
        },
    )
    collection: str = Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": NAME_PATTERN},  # checked by the catalog, with its message
    )
    source: str = Field(
        min_length=1, max_length=4096, pattern=r"^[^\x00]+$", description="a path on the server"
    )
    metadata: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        pattern=r"^[^\x00]+$",
        description="a CSV or JSON-lines metadata file on the server (inside the allowed roots, "
        "as the source), one row per image keyed by its `path`: what `anyseek index "
        "--metadata` reads; a bad row is a 422 saying `FILE:LINE: why`",
    )
    modality: ItemModality = Field(
        default=ItemModality("rgb"),
        strict=False,  # the JSON string names the member (a strict body takes no enum from JSON)
        description="what the source's files are: `rgb` (photos), `depth`, `semseg`, `sketch`"
        "...; `caption`: the source is a JSON-lines file of `{text, key, fields}`",
    )
    manifest: bool = Field(
        default=False,
        description="the source is a CSV or JSON-lines manifest: one record a row, a column per "
        "modality (file paths relative to it, text for `caption`), an optional `key`",
    )


class FailureOut(BaseModel):
    """One entry a job did not index (failed or skipped), and why."""

    source: str
    reason: str


class JobOut(BaseModel):
    """An index job with its progress."""

    id: int
    collection: str
    source: str
    status: Literal["queued", "running", "succeeded", "partial", "failed", "cancelled"]
    total: int
    done: int
    failed: int
    skipped: int
    processed: int
    failures: list[FailureOut]
    skips: list[FailureOut] = Field(
        description="entries skipped, each with its reason: a copy of another image of the "
        "source, a name outside the include globs, a link out of the folder or looping, a folder "
        "that cannot be listed (images already in the collection are counted in "
        "`already_indexed`, not listed)"
    )
    already_indexed: int = Field(
        0, description="of `skipped`: images the collection already had (counted, not listed)"
    )
    notes: list[FailureOut] = Field(
        default_factory=list,
        description="entries indexed with part of their facts left out, each with why: an EXIF "
        "value that could not be read (an impossible date, a latitude of 200, half a GPS "
        "position) or whose field holds another kind in the collection",
    )
    metadata_unmatched: int = Field(
        0, description="rows of the job's metadata file that named no image of its source"
    )
    unmatched_rows: list[str] = Field(
        default_factory=list,
        description="the first few of those rows, each as `FILE:LINE (path)`",
    )
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class ReindexRequest(BaseModel):
    """Re-embed a collection with another model (or the same model's new weights)."""

    model_config = BODY

    model: str = Field(
        min_length=1,
        max_length=1000,
        description="ANYSEEK_MODEL__SOURCE of the model: 'builtin', a bundle or checkpoint folder, "
        "a .safetensors file or a Hugging Face repo id; or the name@digest of a model the "
        "server has loaded (as versions show it)",
        examples=["builtin"],
    )


class VersionOut(BaseModel):
    """One version of a collection's vectors and the model that made them."""

    number: int
    model: str = Field(description="name@content-hash of the model")
    model_source: str | None
    precision: str | None = Field(
        default=None, description="float32, bfloat16 or mixed; null: recorded before it was"
    )
    store_name: str
    status: Literal["building", "ready"]
    current: bool
    job_id: int | None
    created_at: datetime
    built_at: datetime | None


class VersionList(BaseModel):
    """A collection's versions, oldest first; exactly one is current."""

    collection: str
    versions: list[VersionOut]


class SwitchOut(BaseModel):
    """A switch of the current version (a rollback): from, to, and versions dropped."""

    collection: str
    previous: int | None
    current: int
    model: str
    dropped: list[int]


class JobList(BaseModel):
    """The newest jobs first."""

    jobs: list[JobOut]
