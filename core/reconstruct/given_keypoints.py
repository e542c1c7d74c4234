"""2D semantic points given rather than predicted: clicked on a project image, or the ground
truth of a synthetic view. They drive TTP and the keypoint term of the refinement exactly as
a trained image model's points would (:class:`GivenKeypoints` is an
:class:`~core.learned2d.prediction.ImagePredictor` without a viewpoint head: the silhouette
search then proposes the viewpoints).

Labels are the shape space's, ``"<annotator>:<number>"`` (a correspondence set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.learned2d.prediction import ImagePrediction


@dataclass(frozen=True, eq=False)
class GivenKeypoints:
    """Fixed 2D points of one image, in the order of ``labels``.

    Attributes:
        category: the category of the shape space they are for.
        labels: S labels.
        uv: (S, 2) float64 pixels (x right, y down), NaN where not given.
        weights: (S,) float64 in [0, 1]: 1 for a point placed on the image, 0 where none.
        origin: what the points are, for the run's notes (e.g. "clicked on the image").
    """

    category: str
    labels: tuple[str, ...]
    uv: np.ndarray
    weights: np.ndarray
    origin: str = "given"

    @property
    def count(self) -> int:
        """How many points are given."""
        return int((self.weights > 0).sum())

    def predict(self, rgb: np.ndarray | None = None,
                mask: np.ndarray | None = None) -> ImagePrediction:
        """The given points as a prediction: visibility = the weights, confidence 1 (the
        reconstruction weighs each point by their product). A point clicked as occluded
        weighs as much as a visible one: its position was placed by hand all the same."""
        w = np.asarray(self.weights, dtype=np.float64)
        return ImagePrediction(self.labels, np.asarray(self.uv, dtype=np.float64), w.copy(),
                               np.ones_like(w))


def given_keypoints(category: str, labels: tuple[str, ...], points: dict[str, tuple],
                    origin: str) -> GivenKeypoints:
    """:class:`GivenKeypoints` from ``{label: (x, y)}`` (labels not in ``labels`` are
    ignored; a non-finite position counts as not given)."""
    uv = np.full((len(labels), 2), np.nan)
    weights = np.zeros(len(labels))
    for j, label in enumerate(labels):
        xy = points.get(label)
        if xy is not None and np.isfinite(np.asarray(xy, dtype=np.float64)).all():
            uv[j] = xy
            weights[j] = 1.0
    return GivenKeypoints(category, tuple(labels), uv, weights, origin)


def image_keypoints_for_space(store, image_id: int, category: str,
                              labels: tuple[str, ...]) -> GivenKeypoints:
    """The points clicked on project image ``image_id`` (visible or occluded, with a
    position), as :class:`GivenKeypoints` for a shape space's ``labels``."""
    from core.store.image_store import image_keypoints

    sets = store.category_sets(category)
    label_of = {int(sid): f"{a}:{int(n)}" for sid, a, n in
                zip(sets.set_ids.tolist(), sets.set_annotators, sets.set_numbers.tolist(),
                    strict=True)}
    points = {label_of[p.set_id]: (p.x, p.y) for p in image_keypoints(store, image_id)
              if p.x is not None and p.y is not None and p.set_id in label_of}
    return given_keypoints(category, labels, points, "clicked on the image")
