"""What a learned image model predicts for one image, and the interface reconstruction uses.

Pixel convention as everywhere in ``core``: x right, y down, pixel centres at ``i + 0.5``.
Viewpoint bins are those of :mod:`core.pose.viewpoint` (``azimuth_bin_centres``,
``elevation_bin_centres``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, eq=False)
class ImagePrediction:
    """Predictions for one image, in that image's pixels.

    Attributes:
        labels: S semantic point labels, in the shape space's order.
        uv: (S, 2) float64 predicted positions, pixels.
        visibility: (S,) float64 probability that the point is visible, 0..1.
        confidence: (S,) float64 heatmap peak (softmax probability mass near the peak), 0..1.
        viewpoint_probs: (n_azimuth, n_elevation) float64 probabilities summing to 1, or
            None when the model has no viewpoint head.
    """

    labels: tuple[str, ...]
    uv: np.ndarray
    visibility: np.ndarray
    confidence: np.ndarray
    viewpoint_probs: np.ndarray | None = None

    def top_viewpoints(self, k: int = 3) -> list[tuple[int, int, float]]:
        """The ``k`` most probable (azimuth_bin, elevation_bin, probability), best first."""
        if self.viewpoint_probs is None:
            return []
        p = np.asarray(self.viewpoint_probs)
        order = np.argsort(p, axis=None)[::-1][:k]
        return [(int(i // p.shape[1]), int(i % p.shape[1]), float(p.flat[i])) for i in order]


@runtime_checkable
class ImagePredictor(Protocol):
    """A trained image model for one category (see :mod:`core.learned2d`)."""

    category: str
    labels: tuple[str, ...]

    def predict(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> ImagePrediction:
        """Predict on ``rgb`` (H, W, 3) uint8 with the object's ``mask`` (H, W) bool (used to
        crop; None: the whole image)."""
        ...
