"""Hard silhouette masks on the CPU by filling projected triangles (OpenCV), no z-buffer.

A pixel is inside when its centre ``(i + 0.5, j + 0.5)`` is inside a projected triangle, the
same rule as a rasterizer sampling pixel centres; vertices are placed with 1/16-pixel precision.
For a closed (watertight) mesh the silhouette is the union of its front-facing triangles, so
``cull_backfaces=True`` halves the work; leave it off for open meshes.
"""

from __future__ import annotations

import cv2
import numpy as np

SUBPIXEL_BITS = 4
_SUBPIXEL = float(1 << SUBPIXEL_BITS)


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def front_facing(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces whose projection winds clockwise in pixel coordinates (y down), (F,) bool.

    With outward (counter-clockwise) winding, a face seen from outside projects clockwise in
    a y-down image, i.e. with a negative signed area.
    """
    a, b, c = uv[faces[:, 0]], uv[faces[:, 1]], uv[faces[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    return cross < 0


def hard_mask(uv, faces, image_size: tuple[int, int], depth=None,
              cull_backfaces: bool = False) -> np.ndarray:
    """Silhouette of a projected mesh.

    Args:
        uv: (V, 2) projected vertices, pixels (numpy or torch).
        faces: (F, 3) vertex indices.
        image_size: ``(height, width)``.
        depth: optional (V,) camera depth; faces with a vertex at or behind the camera
            (depth <= 0) are skipped, as a rasterizer clips them.
        cull_backfaces: fill only front-facing faces (valid for closed meshes).

    Returns:
        (H, W) bool mask.
    """
    uv = _as_numpy(uv).astype(np.float64, copy=False)
    faces = _as_numpy(faces).astype(np.int64, copy=False)
    h, w = int(image_size[0]), int(image_size[1])
    out = np.zeros((h, w), dtype=np.uint8)
    if faces.size == 0:
        return out.astype(bool)
    keep = np.ones(len(faces), dtype=bool)
    if depth is not None:
        d = _as_numpy(depth)
        keep &= (d[faces] > 0).all(axis=1)
    if cull_backfaces:
        keep &= front_facing(uv, faces)
    tri = uv[faces[keep]]  # (F', 3, 2)
    finite = np.isfinite(tri).all(axis=(1, 2))
    tri = tri[finite]
    # Clip far-away coordinates so the fixed-point conversion cannot overflow.
    lim = 4.0 * max(h, w) + 16.0
    tri = np.clip(tri - 0.5, -lim, lim)  # pixel centres sit on integers in OpenCV
    # Skip triangles that miss the image entirely.
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    on = (hi[:, 0] >= -1) & (lo[:, 0] <= w) & (hi[:, 1] >= -1) & (lo[:, 1] <= h)
    pts = np.rint(tri[on] * _SUBPIXEL).astype(np.int32)
    fill = cv2.fillConvexPoly
    for t in pts:
        fill(out, t, 1, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    return out.astype(bool)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool masks; 1.0 when both are empty."""
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)
