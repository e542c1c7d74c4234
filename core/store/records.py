"""Plain, session-free records returned by :class:`ProjectStore` queries.

Views and workers hold these, never ORM objects, so nothing touches the
database outside the store.
"""

from __future__ import annotations

from dataclasses import dataclass
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
