"""Synthetic data: shaded renders of category models with ground-truth camera, mask and 2D
keypoints (with visibility), for demos, tests, training and evaluation.

- :mod:`core.synthetic.renders`: :func:`render_view`, :func:`render_dataset`,
  :func:`sample_viewpoints`, :func:`fit_camera`, :class:`SyntheticView`,
  :class:`SyntheticKeypoints`, :class:`Viewpoint`.
"""

from core.synthetic.renders import (
    ABSENT,
    BACKGROUNDS,
    OCCLUDED,
    VISIBLE,
    SyntheticKeypoints,
    SyntheticView,
    Viewpoint,
    fit_camera,
    render_dataset,
    render_view,
    sample_viewpoints,
)

__all__ = [
    "ABSENT",
    "BACKGROUNDS",
    "OCCLUDED",
    "VISIBLE",
    "SyntheticKeypoints",
    "SyntheticView",
    "Viewpoint",
    "fit_camera",
    "render_dataset",
    "render_view",
    "sample_viewpoints",
]
