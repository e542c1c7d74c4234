"""From a constructed solid to a :class:`DemoModel`: mesh, normalization, landmark snap."""

from __future__ import annotations

from dataclasses import dataclass, field

import manifold3d as m3
import numpy as np

from core.demo.parts import apply, to_arrays
from core.demo.types import DemoModel
from core.geometry.mesh import normalize
from core.geometry.surface import closest_points

__all__ = ["Construction", "finish_model"]


@dataclass
class Construction:
    """A category generator's output before normalization.

    Attributes:
        solid: the union of the parts (one connected solid).
        points: landmark name -> (3,) position in construction units, on the surface of
            ``solid`` by construction; only landmarks of parts the model has.
        params: the shape parameters drawn for this model (floats and bools).
    """

    solid: m3.Manifold
    points: dict[str, np.ndarray]
    params: dict[str, float | bool] = field(default_factory=dict)


def finish_model(construction: Construction, model_id: str, order: list[str]) -> DemoModel:
    """Mesh the solid, normalize it and snap the landmarks to the normalized surface.

    Args:
        construction: the generator's output.
        model_id: id of the model.
        order: landmark names in category order (landmarks the model lacks are skipped).

    Returns:
        The model. ``params["landmark_snap_max"]`` holds the largest distance (normalized
        units, i.e. fraction of the bounding-box diagonal) between a construction point
        and the surface: a landmark buried inside another part would show up there.
    """
    vertices, faces = to_arrays(construction.solid)
    vertices, matrix = normalize(vertices)
    names = [n for n in order if n in construction.points]
    raw = np.array([construction.points[n] for n in names], dtype=np.float64).reshape(-1, 3)
    snapped = closest_points(vertices, faces, apply(matrix, raw))
    params = dict(construction.params)
    params["landmark_snap_max"] = float(snapped.distance.max()) if names else 0.0
    landmarks = dict(zip(names, snapped.to_surface_points(), strict=True))
    return DemoModel(
        model_id=model_id, vertices=vertices, faces=faces, landmarks=landmarks, params=params
    )
