"""Plain, session-free records returned by :class:`ProjectStore` queries.

Views and workers hold these, never ORM objects, so nothing touches the
database outside the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class CategoryInfo:
    """A category with counts for browsers."""

    id: int
    name: str
    shapenet_id: str | None
    n_models: int
    n_sets: int
    n_keypoints: int


@dataclass(frozen=True)
class ModelInfo:
    """A model of a category; ``mesh_file`` is resolved against the project folder.

    ``transform`` maps the mesh file's coordinates to the normalized frame in which
    keypoints are stored (None means identity)."""

    id: int
    category: str
    name: str
    mesh_file: Path | None
    n_vertices: int | None
    n_faces: int | None
    n_keypoints: int
    transform: tuple[tuple[float, ...], ...] | None = None  # 4x4, file frame -> normalized


@dataclass(frozen=True)
class KeypointRecord:
    """One keypoint to write (bulk import, demo builder).

    ``bary`` are barycentric weights on ``face``; ``xyz`` in normalized model units.
    ``face``/``bary``/``xyz`` are None for a point marked absent.
    """

    model_id: int
    set_id: int
    face: int | None
    bary: tuple[float, float, float] | None
    xyz: tuple[float, float, float] | None
    rgb: tuple[int, int, int] = (128, 128, 128)
    absent: bool = False
    author_id: int | None = None


@dataclass(frozen=True)
class ModelKeypoints:
    """All placed keypoints of one model, as arrays (K = number of keypoints).

    Attributes:
        keypoint_ids: (K,) int64 database ids.
        set_ids: (K,) int64 correspondence-set ids.
        numbers: (K,) int64 set numbers 0..15 (the annotator's convention).
        annotators: K annotator names.
        faces: (K,) int64 face indices.
        bary: (K, 3) float64 barycentric weights.
        xyz: (K, 3) float64 positions, normalized model units.
        rgb: (K, 3) uint8 colors.
    """

    keypoint_ids: np.ndarray
    set_ids: np.ndarray
    numbers: np.ndarray
    annotators: tuple[str, ...]
    faces: np.ndarray
    bary: np.ndarray
    xyz: np.ndarray
    rgb: np.ndarray

    def __len__(self) -> int:
        return int(self.keypoint_ids.shape[0])


MISSING, PLACED, ABSENT = 0, 1, 2  # values of CategorySets.state


@dataclass(frozen=True)
class CategorySets:
    """Every correspondence set of a category as dense arrays (M models x S sets).

    Attributes:
        category: the category name.
        model_ids: (M,) int64 database ids, models sorted by name.
        model_names: M model names.
        set_ids: (S,) int64, sets sorted by (annotator, number).
        set_annotators: S annotator names.
        set_numbers: (S,) int64 set numbers.
        set_names: S optional set names.
        state: (M, S) int8: 0 missing, 1 placed, 2 absent (the progress matrix).
        keypoint_ids: (M, S) int64, -1 where there is no row.
        versions: (M, S) int64, 0 where there is no row.
        faces: (M, S) int64, -1 where not placed.
        bary: (M, S, 3) float64 barycentric weights, NaN where not placed.
        xyz: (M, S, 3) float64 positions in normalized model units, NaN where not placed.
    """

    category: str
    model_ids: np.ndarray
    model_names: tuple[str, ...]
    set_ids: np.ndarray
    set_annotators: tuple[str, ...]
    set_numbers: np.ndarray
    set_names: tuple[str | None, ...]
    state: np.ndarray
    keypoint_ids: np.ndarray
    versions: np.ndarray
    faces: np.ndarray
    bary: np.ndarray
    xyz: np.ndarray

    def progress(self, annotator: str | None = None) -> tuple[int, int, int]:
        """(placed, absent, missing) counts, optionally for one annotator's sets."""
        cols = slice(None) if annotator is None else np.array(
            [a == annotator for a in self.set_annotators], dtype=bool)
        block = self.state[:, cols]
        return (int((block == PLACED).sum()), int((block == ABSENT).sum()),
                int((block == MISSING).sum()))


@dataclass(frozen=True)
class ImageInfo:
    """An image of a category (the encoded file is stored in the project database).

    ``width`` and ``height`` are in pixels; ``sha256`` is the hex digest of the file's
    bytes as imported; ``source_path`` is where it was imported from (provenance only:
    the project does not need the file any more).
    """

    id: int
    category: str
    name: str
    source_path: str | None
    sha256: str
    format: str  # "PNG" | "JPEG"
    width: int
    height: int
    has_mask: bool
    has_camera: bool
    created_at: datetime  # timezone-aware UTC


@dataclass(frozen=True)
class ImageKeypointRecord:
    """A correspondence set's 2D point on an image.

    ``x``, ``y`` are pixels (x right, y down, origin at the image's top-left corner, pixel
    centers at ``i + 0.5``), None when ``state`` is ``"absent"``. ``state`` is
    ``"visible"``, ``"occluded"`` or ``"absent"`` (COCO's v = 2, 1, 0). ``version`` counts
    edits (optimistic concurrency, as for 3D keypoints).
    """

    id: int
    image_id: int
    set_id: int
    x: float | None
    y: float | None
    state: str
    annotator_id: int | None
    version: int
    updated_at: datetime  # timezone-aware UTC
