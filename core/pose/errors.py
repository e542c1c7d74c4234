"""Errors the pose engine (viewpoint search, refinement, PCK) raises, and the input checks
that raise them (target masks, meshes)."""

from __future__ import annotations


class PoseError(ValueError):
    """Input the pose engine cannot use: a mask of another size than the camera's image, an
    empty mask, a mask touching every image border, mismatched keypoint arrays, bad options.
    The message names the problem (and both sizes where sizes disagree)."""


class RefinementDiverged(PoseError):
    """The refinement loss or a camera parameter became NaN or infinite; the run stopped
    before yielding that camera (the message gives the step)."""


def as_mask(mask, image_size: tuple[int, int] | None = None, what: str = "mask"):
    """Check a target mask and return it as an (H, W) bool numpy array.

    Args:
        mask: (H, W) bool, or numbers read as foreground where > 0.5 (numpy or torch).
        image_size: ``(height, width)`` the mask must have (the camera's), or None.

    Raises:
        PoseError: not 2D, another size than ``image_size`` (both sizes named), non-finite
            values, no foreground pixel, or foreground touching all four image borders (the
            object fills or overflows the frame, so its extent is unknown).
    """
    import numpy as np

    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise PoseError(f"{what} must be a 2D (height, width) array, got shape {arr.shape}")
    h, w = arr.shape
    if image_size is not None and (h, w) != (int(image_size[0]), int(image_size[1])):
        raise PoseError(f"{what} is {h}x{w} (height x width) but the camera's image is "
                        f"{int(image_size[0])}x{int(image_size[1])}")
    if arr.dtype != bool:
        if not np.isfinite(arr).all():
            raise PoseError(f"{what} has non-finite values")
        arr = arr > 0.5
    if h == 0 or w == 0 or not arr.any():
        raise PoseError(f"{what} is empty: no foreground pixel in the {h}x{w} image")
    if arr[0].any() and arr[-1].any() and arr[:, 0].any() and arr[:, -1].any():
        raise PoseError(f"{what} touches all four image borders: the object fills or "
                        f"overflows the {h}x{w} frame, so its extent is unknown")
    return arr


def as_mesh(vertices, faces):
    """Check a mesh and return ``(vertices (V, 3) float64, faces (F, 3) int64)`` numpy arrays.

    Raises:
        PoseError: wrong shapes, non-finite vertices, no faces, or indices out of range.
    """
    import numpy as np

    if hasattr(vertices, "detach"):
        vertices = vertices.detach().cpu().numpy()
    if hasattr(faces, "detach"):
        faces = faces.detach().cpu().numpy()
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise PoseError(f"vertices must be a non-empty (V, 3) array, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise PoseError("vertices contain NaN or infinite coordinates")
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise PoseError(f"faces must be a non-empty (F, 3) array, got shape {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        raise PoseError(f"faces must hold integer vertex indices, got {f.dtype}")
    f = f.astype(np.int64)
    if f.min() < 0 or f.max() >= len(v):
        raise PoseError(f"face indices must be in [0, {len(v)}), got [{f.min()}, {f.max()}]")
    return v, f


def is_closed_mesh(faces) -> bool:
    """True when every directed edge of ``faces`` (F, 3) has exactly one reversed twin (a
    closed, consistently oriented mesh): its silhouette is the union of its front faces."""
    import numpy as np

    f = np.asarray(faces, dtype=np.int64)
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    n = int(f.max()) + 1
    key = edges[:, 0] * n + edges[:, 1]
    twin = edges[:, 1] * n + edges[:, 0]
    if len(np.unique(key)) != len(key):
        return False
    return bool(np.isin(twin, key).all())
