"""Records shared by the embedding engine (datasets, metrics, training).

Units: positions and geodesic distances are in normalized model units (each model
centred, bounding-box diagonal 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShapeSample:
    """One model prepared for training or evaluation.

    Attributes:
        name: model name.
        points: (N, 3) float32 area-weighted surface samples, with the model's annotated
            keypoints inserted (each replacing its nearest sample).
        keypoints: (S,) int64: the sample index holding set s's point on this model, or
            -1 when the model has no point of set s (absent or not annotated).
        geodesics: (S, N) float32: geodesic distance from set s's point to every sample;
            +inf where unreachable (another component); rows of absent sets are all NaN.
    """

    name: str
    points: np.ndarray
    keypoints: np.ndarray
    geodesics: np.ndarray


@dataclass(frozen=True)
class CategoryData:
    """A category's samples and its set-distance matrix.

    Attributes:
        category: category name.
        set_labels: S labels ``"<annotator>:<number>"`` (column order of ``keypoints``).
        samples: the models.
        set_distance: (S, S) float32 d(Ci, Cj), paper Eq. 2 averaged over the models holding
            both sets; NaN where no model holds both; 0 on the diagonal of present sets.
        geodesic_mode: how the geodesics were computed ("mesh_heat", "cloud_heat", "knn").
    """

    category: str
    set_labels: tuple[str, ...]
    samples: tuple[ShapeSample, ...]
    set_distance: np.ndarray
    geodesic_mode: str
