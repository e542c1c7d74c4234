"""How well a posed shape explains the image: silhouette IoU and agreement with predicted 2D
points (used to choose the starting pose and to report each stage)."""

from __future__ import annotations

import numpy as np

from core.cameras import PerspectiveCamera
from core.raster.fast_mask import hard_mask
from core.raster.interface import project

AGREEMENT_ALPHA = 0.1  # a predicted point agrees within this fraction of the mask box side


def silhouette(camera: PerspectiveCamera, vertices: np.ndarray, faces: np.ndarray,
               closed: bool = True) -> np.ndarray:
    """(H, W) bool hard silhouette of the mesh ``vertices`` (V, 3) / ``faces`` (F, 3) seen by
    ``camera`` (batch of one); ``closed`` culls back faces (watertight meshes)."""
    uv, depth = project(camera, vertices)
    return hard_mask(uv, faces, camera.image_size, depth=depth, cull_backfaces=closed)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (H, W) bool masks (1.0 when both are empty)."""
    inter = int(np.count_nonzero(a & b))
    union = int(np.count_nonzero(a)) + int(np.count_nonzero(b)) - inter
    return inter / union if union else 1.0


def semantic_points(vertices: np.ndarray, faces: np.ndarray, point_faces: np.ndarray,
                    point_bary: np.ndarray) -> np.ndarray:
    """(S, 3) points given as face (S,) + barycentric weights (S, 3) on the mesh."""
    return np.einsum("sc,scd->sd", point_bary, np.asarray(vertices)[faces[point_faces]])


def box_side(mask: np.ndarray) -> float:
    """The longer side of the mask's bounding box, pixels."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return float(max(cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1))


def agreement(projected: np.ndarray, predicted: np.ndarray, weights: np.ndarray,
              threshold_px: float) -> float | None:
    """Weighted fraction of predicted points (S, 2) with a projection (S, 2) within
    ``threshold_px``; None when no weight is positive."""
    w = np.asarray(weights, dtype=np.float64)
    if not (w > 0).any():
        return None
    with np.errstate(invalid="ignore"):
        close = np.linalg.norm(projected - predicted, axis=1) <= threshold_px
    return float((w * np.where(w > 0, close, False)).sum() / w.sum())


def score(iou_value: float, agree: float | None) -> float:
    """Candidate score: the IoU, times ``(1 + agreement) / 2`` when 2D points were predicted
    (silhouettes cannot tell mirror views apart; the points can)."""
    return iou_value if agree is None else iou_value * 0.5 * (1.0 + agree)
