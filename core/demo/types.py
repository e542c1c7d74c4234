"""Plain records that describe a generated demo category.

Everything here is immutable data (numpy arrays and tuples), produced by
:func:`core.demo.generate_category` and consumed by the project builder, the
tests and later QA features that score annotations against ground truth.

Coordinates are in the model's normalized frame: centred on the bounding-box
centre, bounding-box diagonal of length 1, +Y up, +Z the object's front
(airplane nose, mug handle side is +X, chair front), +X the object's left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SurfacePoint:
    """A point on a triangle mesh.

    Attributes:
        face: index into the mesh's faces array (F, 3).
        bary: barycentric weights (w0, w1, w2), each >= 0, summing to 1; the
            position is ``sum_i bary[i] * vertices[faces[face, i]]``.
        xyz: that position, in normalized model units.
    """

    face: int
    bary: tuple[float, float, float]
    xyz: tuple[float, float, float]


@dataclass(frozen=True)
class LandmarkSpec:
    """A ground-truth semantic landmark of a category.

    Attributes:
        name: unique within the category, e.g. ``"wing_tip_left"``.
        mirror: name of the left/right counterpart, or None for points on the
            symmetry plane.
        part: name of the optional part the landmark belongs to (e.g.
            ``"armrests"``), or None when the landmark exists on every model.
    """

    name: str
    mirror: str | None = None
    part: str | None = None


@dataclass(frozen=True)
class DemoModel:
    """One generated model of a category.

    Attributes:
        model_id: unique id, ``"<category>_<index:03d>"``.
        vertices: (V, 3) float64, normalized coordinates.
        faces: (F, 3) int64 vertex indices, outward (counter-clockwise) winding;
            the mesh is one connected, watertight, 2-manifold component.
        landmarks: landmark name -> surface point; landmarks of parts this model
            lacks are omitted.
        params: the shape parameters the model was generated from (floats and
            bools), for documentation and tests.
    """

    model_id: str
    vertices: np.ndarray
    faces: np.ndarray
    landmarks: dict[str, SurfacePoint]
    params: dict[str, float | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoKeypoint:
    """One point placed by a synthetic annotator.

    Attributes:
        model_id: the model it is on.
        number: the annotator's set number, 0..15.
        point: where it was placed (tangential noise around ``placed_landmark``).
        landmark: the landmark the annotator's convention maps ``number`` to.
        placed_landmark: the landmark actually clicked; differs from
            ``landmark`` when the annotator made a left/right swap mistake.
    """

    model_id: str
    number: int
    point: SurfacePoint
    landmark: str
    placed_landmark: str

    @property
    def is_mistake(self) -> bool:
        return self.landmark != self.placed_landmark


@dataclass(frozen=True)
class DemoAnnotator:
    """A synthetic annotator of one category.

    Attributes:
        name: e.g. ``"annotator_03"``.
        convention: set number -> landmark name (the annotator's own numbering;
            a subset of the category's landmarks, at most 16 numbers in 0..15).
        keypoints: every point it placed, sorted by (model_id, number).
    """

    name: str
    convention: dict[int, str]
    keypoints: tuple[DemoKeypoint, ...]


@dataclass(frozen=True)
class DemoCategory:
    """A whole generated category: models, landmarks and annotations."""

    name: str
    shapenet_id: str
    landmarks: tuple[LandmarkSpec, ...]
    models: tuple[DemoModel, ...]
    annotators: tuple[DemoAnnotator, ...]
