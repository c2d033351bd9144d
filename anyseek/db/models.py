"""The metadata database schema: collections, items, index jobs and versioned embedding spaces.

Vectors live in the vector store; this schema records what was indexed, how, and by which model
version, so a store can be rebuilt or migrated to a new model version without guessing. Types are
portable (SQLite and PostgreSQL), enums are stored as checked strings, and every constraint is named
by :data:`NAMING_CONVENTION` so migrations are deterministic.
"""

from __future__ import annotations

import enum
import os
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME_LENGTH = 64
ENUM_LENGTH = 16

# 64-bit ids on PostgreSQL (vector stores key points by item id); SQLite only auto-increments a
# column declared exactly INTEGER, which is 64-bit there anyway.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (the only kind of time the database stores)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, also on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes (ambiguous) and normalise aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """UTC whatever the server's time zone; SQLite returns naive values, which are UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Metric(enum.StrEnum):
    """How vectors of an embedding space are compared."""

    COSINE = "cosine"
    DOT = "dot"
    L2 = "l2"


class ItemStatus(enum.StrEnum):
    """Where one image is in its life: waiting for vectors, searchable, or given up on."""

    PENDING = "pending"
    INDEXED = "indexed"
    FAILED = "failed"


class ChunkStatus(enum.StrEnum):
    """Whether a chunk of a job is still to be processed or has been staged (exactly once)."""

    PENDING = "pending"
    DONE = "done"


class VersionStatus(enum.StrEnum):
    """Where a collection version is: being built (re-index running), or complete."""

    BUILDING = "building"
    READY = "ready"


class JobStatus(enum.StrEnum):
    """Life cycle of an index job."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every item given was indexed or skipped: none failed
    PARTIAL = "partial"  # some items were indexed and some failed
    FAILED = "failed"  # items failed and none was indexed, or the job itself stopped
    CANCELLED = "cancelled"


def string_enum(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column type: a VARCHAR holding the member values, guarded by a CHECK."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=ENUM_LENGTH,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base whose metadata names every constraint by convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


class EmbeddingSpace(Base):
    """One vector space produced by one model version, e.g. ``dinov2_global`` of model X at v2.

    A new model version is a new row, never an update: vectors from different versions are not
    comparable, so each row names exactly one set of comparable vectors.
    """

    __tablename__ = "embedding_spaces"
    __table_args__ = (
        UniqueConstraint("name", "model_name", "model_version"),
        CheckConstraint("dim > 0", name="dim_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    dim: Mapped[int] = mapped_column(Integer)
    metric: Mapped[Metric] = mapped_column(string_enum(Metric, "metric"))
    model_name: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return (
            f"EmbeddingSpace({self.name!r}, dim={self.dim}, {self.model_name}@{self.model_version})"
        )


class Collection(Base):
    """A named set of images searched together, indexed with one model identity."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    model_name: Mapped[str | None] = mapped_column(String(255), default=None)
    model_version: Mapped[str | None] = mapped_column(String(128), default=None)
    # the precision that made its current version's vectors (see CollectionVersion)
    model_precision: Mapped[str | None] = mapped_column(String(16), default=None)
    # mean cosine over the spaces at or above which a new image is a near-duplicate of an item
    # already indexed; None: ANYSEEK_INDEXER__NEAR_DUPLICATE_THRESHOLD; 0: never
    near_duplicate_threshold: Mapped[float | None] = mapped_column(Float, default=None)
    # the number of the version searches use (``collection_versions``); switched in one UPDATE
    current_version: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    spaces: Mapped[list[EmbeddingSpace]] = relationship(  # written through CollectionSpace
        secondary="collection_spaces", order_by="EmbeddingSpace.name", viewonly=True
    )
    items: Mapped[list[Item]] = relationship(
        back_populates="collection", cascade="all, delete-orphan", passive_deletes=True
    )
    jobs: Mapped[list[IndexJob]] = relationship(
        back_populates="collection", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"Collection({self.name!r})"


class CollectionVersion(Base):
    """One set of a collection's vectors, made by one model, in its own store collection.

    A re-index builds version n+1 beside the current one; the switch is one UPDATE of
    ``collections.current_version``, so exactly one version is current at any time, and the model
    that searches it is read from the same row as the vectors' store name (never mixed).
    """

    __tablename__ = "collection_versions"
    __table_args__ = (
        UniqueConstraint("collection_id", "number"),
        CheckConstraint("number > 0", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    # what to load (``ANYSEEK_MODEL__SOURCE``); None for versions recorded before sources were
    model_source: Mapped[str | None] = mapped_column(Text, default=None)
    model_name: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(128))  # content hash of the weights
    # float32 or bfloat16 (ANYSEEK_MODEL__PRECISION), "mixed" when jobs of both added to it;
    # None for vectors made before it was recorded
    model_precision: Mapped[str | None] = mapped_column(String(16), default=None)
    store_name: Mapped[str] = mapped_column(String(128))
    status: Mapped[VersionStatus] = mapped_column(
        string_enum(VersionStatus, "version_status"), default=VersionStatus.BUILDING
    )
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("index_jobs.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    built_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def model(self) -> str:
        """The model identity as people read it: ``name@content-hash``."""
        return f"{self.model_name}@{self.model_version}"

    def __repr__(self) -> str:
        return f"CollectionVersion({self.number}, {self.model}, {self.status.value})"


class CollectionSpace(Base):
    """Which embedding spaces a collection is indexed in (several, one per searchable modality)."""

    __tablename__ = "collection_spaces"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    space_id: Mapped[int] = mapped_column(
        ForeignKey("embedding_spaces.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Item(Base):
    """One item of a collection (an image file, or a record of parts of any modality),
    identified by the SHA-256 of its bytes, or of all its parts (duplicates skipped)."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("collection_id", "sha256"),
        Index(None, "collection_id", "status", "id"),  # the newest indexed id: one probe
        CheckConstraint("width IS NULL OR width > 0", name="width_positive"),
        CheckConstraint("height IS NULL OR height > 0", name="height_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    source_uri: Mapped[str] = mapped_column(Text)  # as shown: undecodable bytes escaped
    # the path's own bytes when they are not UTF-8 (text columns cannot hold them); else None
    source_bytes: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    format: Mapped[str | None] = mapped_column(String(ENUM_LENGTH), default=None)
    status: Mapped[ItemStatus] = mapped_column(
        string_enum(ItemStatus, "item_status"), default=ItemStatus.PENDING
    )
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # the user's metadata fields (search.fields); None for items indexed before there was any
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, default=None)
    # an item of several modalities: {modality: file path or caption text}; None: one image file
    parts: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)

    collection: Mapped[Collection] = relationship(back_populates="items")

    embeddings: Mapped[list[ItemEmbedding]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def source_path(self) -> str:
        """Where the item's file is read from again (serving it, re-indexing it)."""
        return stored_path(self.source_uri, self.source_bytes)

    def __repr__(self) -> str:
        return f"Item({self.id}, {self.sha256[:12]}, {self.status.value})"


def stored_path(source_uri: str, source_bytes: bytes | None) -> str:
    """An item's path from its two columns: the bytes (as the OS takes them back, undecodable
    ones surrogate-escaped) when a name was not UTF-8, else the text."""
    return source_uri if source_bytes is None else os.fsdecode(source_bytes)


class ItemEmbedding(Base):
    """That an item's vector in one space (hence one model version) is in the vector store."""

    __tablename__ = "item_embeddings"

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    space_id: Mapped[int] = mapped_column(
        ForeignKey("embedding_spaces.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    space: Mapped[EmbeddingSpace] = relationship()


class IndexJob(Base):
    """One request to index a source into a collection, with running totals for progress."""

    __tablename__ = "index_jobs"
    __table_args__ = (
        CheckConstraint(
            "total >= 0 AND done >= 0 AND failed >= 0 AND skipped >= 0", name="counts_non_negative"
        ),
        Index(None, "collection_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[JobStatus] = mapped_column(
        string_enum(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # of ``skipped``: images the collection already had, counted only (no row each: issue 55)
    already_indexed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # rows of the job's metadata file that named no image: their count and the first few lines
    metadata_unmatched: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    metadata_unmatched_rows: Mapped[str | None] = mapped_column(Text, default=None)
    task_id: Mapped[str | None] = mapped_column(String(255), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)  # in-process runs only

    collection: Mapped[Collection] = relationship(back_populates="jobs")

    def __repr__(self) -> str:
        return f"IndexJob({self.id}, {self.status.value}, {self.done}/{self.total})"


class IndexChunk(Base):
    """A slice of a job's source items: the unit of work of a task, processed exactly once.

    Tasks carry ``(job_id, seq)``; the source URIs live here so a retried or redelivered task finds
    the same items, and ``status`` turns a second delivery of a finished chunk into a no-op.
    """

    __tablename__ = "index_chunks"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("index_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    sources: Mapped[str] = mapped_column(Text)  # JSON list of source URIs
    status: Mapped[ChunkStatus] = mapped_column(
        string_enum(ChunkStatus, "chunk_status"), default=ChunkStatus.PENDING
    )
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the worker process working on it (``host:pid``) and until when its lease holds unless
    #: renewed: a chunk is exclusive by this lease, never by a transaction left open
    owner: Mapped[str | None] = mapped_column(String(255), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)


class JobFailure(Base):
    """One source entry a job did not index, with the one-line reason: failed (it was tried and
    could not be read, decoded or stored) or ``skipped`` (a duplicate, a name outside the include
    globs, a link out of the folder or looping...); or one it indexed with a ``noted`` reason
    (part of its facts left out: an unreadable EXIF date, a latitude of 200...)."""

    __tablename__ = "index_job_failures"
    __table_args__ = (UniqueConstraint("job_id", "source_uri"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("index_jobs.id", ondelete="CASCADE"))
    source_uri: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    skipped: Mapped[bool] = mapped_column(default=False, server_default=false())
    noted: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class PendingVectors(Base):
    """Outbox: an item's vectors, payload and thumbnail, staged in the database, not yet stored.

    Workers stage vectors in the same transaction as the item row; one writer per store applies
    them (store upsert, thumbnail, then item ``indexed`` and this row deleted in one transaction),
    so a crash anywhere leaves either a staged row to re-apply or a finished item, never a half.
    """

    __tablename__ = "pending_vectors"
    __table_args__ = (Index(None, "collection_id", "item_id"),)

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("index_jobs.id", ondelete="SET NULL"), index=True, default=None
    )
    # the collection version these vectors were embedded for (None: the current one)
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    vectors: Mapped[bytes] = mapped_column(LargeBinary)  # float32, spaces in name order
    payload: Mapped[str] = mapped_column(Text)  # JSON store payload
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)  # JPEG
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class CollectionPriors(Base):
    """A collection's space priors for its model version: what the model predicts for a typical
    image of this collection (official 4M models measure query information against them).

    Estimated once by the indexer from the collection's first indexed images and kept on
    re-indexing; ``model_version`` says which vectors they belong to.
    """

    __tablename__ = "collection_priors"
    __table_args__ = (CheckConstraint("images > 0", name="images_positive"),)

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    model_name: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(128))
    priors: Mapped[bytes] = mapped_column(LargeBinary)  # safetensors {space: [N, V] float32}
    images: Mapped[int] = mapped_column(Integer)  # how many images they were estimated from
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class NearDuplicate(Base):
    """An indexed image found within the collection's threshold of an earlier item: kept and
    searchable, linked to the group's first item (``original_id``) with their similarity."""

    __tablename__ = "near_duplicates"
    __table_args__ = (
        CheckConstraint("item_id <> original_id", name="not_itself"),
        Index(None, "original_id"),
    )

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    original_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id", ondelete="CASCADE"))
    similarity: Mapped[float] = mapped_column(Float)  # mean cosine over the collection's spaces
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class MetadataField(Base):
    """One user metadata field of a collection and the kind of its values (its field registry).

    Filters name these fields; a field no item has is refused with the list of those that exist,
    and every item's value of a field has the registered kind.
    """

    __tablename__ = "metadata_fields"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))  # string|number|boolean|date|strings
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class PendingMetadata(Base):
    """Outbox of metadata edits: an item's whole new metadata, staged with the edit itself.

    The store's writer copies it into the item's store payload, then deletes the row if
    ``revision`` is still the one it copied (a newer edit staged meanwhile stays to be applied),
    so the store always ends with the database's metadata, whatever crashes in between.
    """

    __tablename__ = "pending_metadata"

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    metadata_json: Mapped[str] = mapped_column("metadata", Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Deployment(Base):
    """This deployment's identity (one row): a random id every task names, so that a worker
    never runs a task of another deployment sharing its broker."""

    __tablename__ = "deployment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1: one row
    installation_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
