"""ORM schema of a CorrStudio project (SQLAlchemy 2, typed declarative).

One database holds one project: categories of models (meshes on disk, referenced
by path and content hash), annotators, their correspondence sets and the
keypoints they placed. A correspondence set is ``(annotator, category, number)``
as in CorresPondenceNet; a model holds at most one keypoint per set.

Keypoints follow KeypointNet's ``mesh_info``: a face index and barycentric
weights ``(w0, w1, w2)`` on that face, plus the xyz position (model units,
normalized frame) and an RGB color.

Images of a category (revision 0003) are stored in the database as the encoded file
(PNG/JPEG bytes as imported), so a project file stays portable; each may carry a
silhouette mask (1-bit PNG bytes), a ground-truth camera (JSON text) and one 2D point per
correspondence set. Image pixels: x right, y down, origin at the top-left corner, pixel
centers at ``i + 0.5``.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Role(enum.StrEnum):
    """What an annotator may do (enforced by the store API)."""

    annotator = "annotator"
    reviewer = "reviewer"
    admin = "admin"


class PointState(enum.StrEnum):
    """Whether a keypoint was placed on the surface or marked absent on this model."""

    placed = "placed"
    absent = "absent"


class ProjectInfo(Base):
    """Single-row table naming the project."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)


class Category(Base):
    """An object category (e.g. ``chair``), optionally with its ShapeNet synset id."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    shapenet_id: Mapped[str | None] = mapped_column(String(20))
    extra: Mapped[dict | None] = mapped_column(JSON)  # format extras, e.g. CPNet mean_distance

    models: Mapped[list[Model]] = relationship(back_populates="category")


class Model(Base):
    """A mesh of a category. ``mesh_path`` is relative to the project file's folder
    (or absolute); ``transform`` is the 4x4 matrix (row-major nested lists) that maps
    the file's coordinates to the normalized frame."""

    __tablename__ = "model"
    __table_args__ = (UniqueConstraint("category_id", "name", name="uq_model_category_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    mesh_path: Mapped[str | None] = mapped_column(String(1000))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    n_vertices: Mapped[int | None] = mapped_column(Integer)
    n_faces: Mapped[int | None] = mapped_column(Integer)
    transform: Mapped[list | None] = mapped_column(JSON)

    category: Mapped[Category] = relationship(back_populates="models")


class Annotator(Base):
    """A person (or synthetic annotator) who places points."""

    __tablename__ = "annotator"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20),
                                       default=Role.annotator)


class Template(Base):
    """A reference model an annotator keeps beside the working model (slots 1-6)."""

    __tablename__ = "template"
    __table_args__ = (
        UniqueConstraint("annotator_id", "category_id", "slot", name="uq_template_slot"),
        CheckConstraint("slot BETWEEN 1 AND 6", name="ck_template_slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))


class CorrespondenceSet(Base):
    """Every point with the same (annotator, number) in a category (CPNet's set).

    CPNet annotators use numbers 0-15 (the annotation UI's 16 set keys); imported
    KeypointNet semantic ids go higher, so the database only requires ``number >= 0``.
    """

    __tablename__ = "correspondence_set"
    __table_args__ = (
        UniqueConstraint("annotator_id", "category_id", "number", name="uq_set_number"),
        CheckConstraint("number >= 0", name="ck_set_number_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(100))

    annotator: Mapped[Annotator] = relationship()


class Keypoint(Base):
    """One point of a set on a model (KeypointNet ``mesh_info`` + xyz + rgb).

    ``version`` is SQLAlchemy's version counter: an update from a stale copy
    raises ``StaleDataError`` instead of silently overwriting a teammate's edit.
    """

    __tablename__ = "keypoint"
    __table_args__ = (UniqueConstraint("model_id", "set_id", name="uq_keypoint_model_set"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), index=True)
    set_id: Mapped[int] = mapped_column(
        ForeignKey("correspondence_set.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[PointState] = mapped_column(
        Enum(PointState, native_enum=False, length=10), default=PointState.placed
    )
    face_index: Mapped[int | None] = mapped_column(Integer)
    w0: Mapped[float | None] = mapped_column(Float)
    w1: Mapped[float | None] = mapped_column(Float)
    w2: Mapped[float | None] = mapped_column(Float)
    x: Mapped[float | None] = mapped_column(Float)
    y: Mapped[float | None] = mapped_column(Float)
    z: Mapped[float | None] = mapped_column(Float)
    r: Mapped[int] = mapped_column(Integer, default=128)
    g: Mapped[int] = mapped_column(Integer, default=128)
    b: Mapped[int] = mapped_column(Integer, default=128)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("annotator.id", ondelete="SET NULL"))
    point_index: Mapped[int | None] = mapped_column(Integer)  # index in the model's point cloud
    source_order: Mapped[int | None] = mapped_column(Integer)  # position in the imported record
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class AnnotationRecord(Base):
    """Record-level data of one annotator on one model kept for faithful re-export
    (e.g. KeypointNet ``symmetries``)."""

    __tablename__ = "annotation_record"
    __table_args__ = (
        UniqueConstraint("model_id", "annotator_id", name="uq_record_model_annotator"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    extra: Mapped[dict] = mapped_column(JSON, default=dict)


class ModelPointCloud(Base):
    """A model's sampled surface points: ``points`` holds (n_points, 3) float32,
    little-endian, row-major (KeypointNet pcd / CPNet ``point_clouds``)."""

    __tablename__ = "model_point_cloud"

    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"),
                                          primary_key=True)
    n_points: Mapped[int] = mapped_column(Integer)
    points: Mapped[bytes] = mapped_column(LargeBinary)


class KeypointFlag(Base):
    """A reviewer's flag on a keypoint (a likely mistake), open until resolved."""

    __tablename__ = "keypoint_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    keypoint_id: Mapped[int] = mapped_column(ForeignKey("keypoint.id", ondelete="CASCADE"),
                                             index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("annotator.id",
                                                               ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("annotator.id",
                                                               ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImagePointState(enum.StrEnum):
    """A 2D point's state on an image, as COCO's visibility flag v (see :attr:`coco_v`)."""

    visible = "visible"  # labeled and visible (v = 2)
    occluded = "occluded"  # labeled, not visible (v = 1)
    absent = "absent"  # not on this image (v = 0; no position)

    @property
    def coco_v(self) -> int:
        """COCO's v flag: 2 visible, 1 occluded, 0 absent."""
        return {"visible": 2, "occluded": 1, "absent": 0}[self.value]

    @classmethod
    def from_coco_v(cls, v: int) -> ImagePointState:
        """The state of COCO's v flag (0, 1 or 2)."""
        try:
            return {2: cls.visible, 1: cls.occluded, 0: cls.absent}[int(v)]
        except KeyError:
            raise ValueError(f"COCO visibility flags are 0, 1 or 2 (got {v})") from None


class Image(Base):
    """An image of a category: the encoded file bytes (``data``, PNG or JPEG as imported),
    its SHA-256 (unique per category), size in pixels, an optional silhouette ``mask``
    (PNG bytes, same size) and an optional ground-truth camera (``camera_json``, a JSON
    object written by the camera module). ``source_path`` records where it came from."""

    __tablename__ = "image"
    __table_args__ = (
        UniqueConstraint("category_id", "sha256", name="uq_image_category_sha256"),
        UniqueConstraint("category_id", "name", name="uq_image_category_name"),
        CheckConstraint("width > 0 AND height > 0", name="ck_image_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    source_path: Mapped[str | None] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(10))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    mask: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    camera_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImageKeypoint(Base):
    """A correspondence set's point on an image: pixels ``(x, y)`` and a state (COCO's v);
    an absent point has no position. ``version`` counts edits (checked like keypoints')."""

    __tablename__ = "image_keypoint"
    __table_args__ = (
        UniqueConstraint("image_id", "set_id", name="uq_image_keypoint_image_set"),
        CheckConstraint("(state = 'absent' AND x IS NULL AND y IS NULL) OR "
                        "(state <> 'absent' AND x IS NOT NULL AND y IS NOT NULL)",
                        name="ck_image_keypoint_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"))
    set_id: Mapped[int] = mapped_column(
        ForeignKey("correspondence_set.id", ondelete="CASCADE"), index=True
    )
    x: Mapped[float | None] = mapped_column(Float)
    y: Mapped[float | None] = mapped_column(Float)
    state: Mapped[ImagePointState] = mapped_column(
        Enum(ImagePointState, native_enum=False, length=10), default=ImagePointState.visible
    )
    annotator_id: Mapped[int | None] = mapped_column(ForeignKey("annotator.id",
                                                                ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class SavedRun(Base):
    """A saved live run (pose refinement, reconstruction, training...) of a category.

    ``kind`` names the computation, ``name`` is the user's label; ``params_json`` and
    ``summary_json`` are JSON objects (settings; final metrics); ``steps`` is an ``.npz``
    archive of every step's fields (see :mod:`core.store.run_store`); ``image_id`` links the
    image the run was made on, when it was a project image."""

    __tablename__ = "saved_run"
    __table_args__ = (CheckConstraint("n_steps >= 0", name="ck_saved_run_steps"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"),
                                             index=True)
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("image.id", ondelete="SET NULL"))
    source: Mapped[str | None] = mapped_column(String(500))
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    summary_json: Mapped[str] = mapped_column(Text, default="{}")
    n_steps: Mapped[int] = mapped_column(Integer)
    steps: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
