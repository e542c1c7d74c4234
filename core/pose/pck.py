"""Percentage of correct keypoints (PCK), the 2D-3D-2D paper's Eq. 2.

A keypoint is correct when ``||pred - gt|| <= alpha * max(w, h)`` (distance equal to the
threshold counts as correct), with ``(w, h)`` the size of a normaliser:

- ``image``: the whole image, ``max(H, W)``;
- ``object_box``: the bounding box of the object's mask (pixel edges: a box of the pixels
  ``x0..x1`` is ``x1 - x0 + 1`` wide);
- ``keypoint_box``: the bounding box of the valid ground-truth keypoints (``max - min`` of
  their coordinates).

Points are pixels ``[x, y]`` (:mod:`core.cameras` convention). Only ``valid`` keypoints count;
a prediction that is NaN or infinite at a valid keypoint is simply incorrect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.pose.errors import PoseError


@dataclass(frozen=True)
class PCKReport:
    """PCK under each normaliser.

    Attributes:
        image, object_box, keypoint_box: PCK in [0, 1]; ``object_box`` is None without a
            mask, ``keypoint_box`` None when the valid keypoints' box is a single point;
            NaN when no keypoint is valid.
        thresholds: normaliser name -> threshold in pixels (``alpha * max(w, h)``).
        correct: normaliser name -> (N,) bool per keypoint (False where not valid).
        n_valid: number of valid keypoints.
        alpha: the tolerance factor.
    """

    image: float
    object_box: float | None
    keypoint_box: float | None
    thresholds: dict[str, float]
    correct: dict[str, np.ndarray]
    n_valid: int
    alpha: float


def _points(pred, gt, valid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 2 or pred.shape[1] != 2 or gt.shape != pred.shape:
        raise PoseError(f"pred and gt must both be (N, 2) pixel arrays, got {pred.shape} and "
                        f"{gt.shape}")
    valid = np.ones(len(gt), dtype=bool) if valid is None else np.asarray(valid)
    if valid.shape != (len(gt),) or valid.dtype != bool:
        raise PoseError(f"valid must be a ({len(gt)},) bool array, got {valid.dtype} "
                        f"{valid.shape}")
    if not np.isfinite(gt[valid]).all():
        raise PoseError("ground-truth keypoints marked valid must be finite")
    return pred, gt, valid


def pck(pred, gt, valid, threshold_px: float) -> tuple[float, np.ndarray]:
    """PCK at a threshold in pixels.

    Args:
        pred, gt: (N, 2) predicted and ground-truth keypoints, pixels.
        valid: (N,) bool, keypoints that count (None: all).
        threshold_px: a keypoint is correct when its error is <= this.

    Returns:
        ``(fraction of valid keypoints that are correct, NaN if none is valid;
        (N,) bool correct per keypoint, False where not valid)``.

    Raises:
        PoseError: shapes disagree, non-finite valid ground truth, or a negative or
            non-finite threshold.
    """
    pred, gt, valid = _points(pred, gt, valid)
    threshold = float(threshold_px)
    if not (np.isfinite(threshold) and threshold >= 0):
        raise PoseError(f"threshold must be a finite number >= 0 pixels, got {threshold_px}")
    with np.errstate(invalid="ignore"):
        dist = np.linalg.norm(pred - gt, axis=1)
        correct = valid & np.isfinite(dist) & (dist <= threshold)
    n = int(valid.sum())
    return (float(correct.sum()) / n if n else float("nan")), correct


def pck_report(pred, gt, valid, image_size: tuple[int, int], mask=None,
               alpha: float = 0.1) -> PCKReport:
    """PCK@``alpha`` normalised by the image, the object's box and the keypoints' box.

    Args:
        pred, gt: (N, 2) pixels; valid: (N,) bool or None (all valid).
        image_size: ``(height, width)``.
        mask: (H, W) object mask (bool or numbers > 0.5) for the object box, or None.
        alpha: tolerance factor (the papers' 0.1 by default).

    Raises:
        PoseError: as :func:`pck`; a mask of another size than the image (both named) or an
            empty one; ``alpha`` not positive.
    """
    pred, gt, valid = _points(pred, gt, valid)
    if not (np.isfinite(alpha) and alpha > 0):
        raise PoseError(f"alpha must be a positive number, got {alpha}")
    h, w = int(image_size[0]), int(image_size[1])
    sizes: dict[str, float | None] = {"image": float(max(h, w)), "object_box": None,
                                      "keypoint_box": None}
    if mask is not None:
        m = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask)
        if m.shape != (h, w):
            raise PoseError(f"mask is {m.shape[0]}x{m.shape[1]} (height x width) but the "
                            f"image is {h}x{w}" if m.ndim == 2 else
                            f"mask must be a 2D (height, width) array, got shape {m.shape}")
        m = m if m.dtype == bool else m > 0.5
        if not m.any():
            raise PoseError("mask is empty: no object box to normalise by")
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        sizes["object_box"] = float(max(cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1))
    if valid.any():
        span = gt[valid].max(axis=0) - gt[valid].min(axis=0)
        if float(span.max()) > 0:
            sizes["keypoint_box"] = float(span.max())
    values: dict[str, float | None] = {}
    thresholds: dict[str, float] = {}
    correct: dict[str, np.ndarray] = {}
    for name, size in sizes.items():
        if size is None:
            values[name] = None
            continue
        thresholds[name] = alpha * size
        values[name], correct[name] = pck(pred, gt, valid, thresholds[name])
    return PCKReport(values["image"], values["object_box"], values["keypoint_box"],
                     thresholds, correct, int(valid.sum()), float(alpha))
