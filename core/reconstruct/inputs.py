"""Checks of the image and mask a reconstruction starts from."""

from __future__ import annotations

import numpy as np

from core.reconstruct.errors import ReconstructionError


def check_mask(mask, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """The object's silhouette as an (H, W) bool array.

    Args:
        mask: (H, W) bool, or numbers read as foreground where > 0.5 (numpy or torch).
        image_size: ``(height, width)`` of the image it belongs to, or None.

    Raises:
        ReconstructionError: not 2D, another size than the image (both named), NaN or inf,
            no foreground pixel, or foreground touching all four borders (the object fills
            or overflows the frame: its extent is unknown).
    """
    from core.pose.errors import PoseError, as_mask

    arr = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
    if arr.ndim == 2 and image_size is not None and arr.shape != tuple(image_size):
        raise ReconstructionError(
            f"the mask is {arr.shape[0]}x{arr.shape[1]} (height x width) but the image is "
            f"{int(image_size[0])}x{int(image_size[1])}")
    if arr.dtype != bool and arr.ndim == 2 and np.issubdtype(arr.dtype, np.number) \
            and not np.isfinite(arr).all():
        raise ReconstructionError("the mask holds NaN or inf values")
    try:
        return as_mask(arr)
    except PoseError as exc:
        raise ReconstructionError(str(exc)) from exc


def check_image(rgb) -> np.ndarray:
    """The image as (H, W, 3) uint8 RGB.

    ``rgb`` may be uint8, or floats in [0, 1] (scaled by 255) or [0, 255]; a 2D array is
    read as grey.

    Raises:
        ReconstructionError: not (H, W), (H, W, 3) or (H, W, 4), empty, not numeric, or
            holding NaN or inf.
    """
    arr = rgb.detach().cpu().numpy() if hasattr(rgb, "detach") else np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ReconstructionError(f"the image must be an (H, W, 3) RGB array, got shape "
                                  f"{arr.shape}")
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ReconstructionError(f"the image must hold numbers, got {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ReconstructionError("the image holds NaN or inf values")
    if arr.max(initial=0.0) <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def check_inputs(rgb, mask) -> tuple[np.ndarray | None, np.ndarray]:
    """``(rgb (H, W, 3) uint8 or None, mask (H, W) bool)``; ``rgb`` may be None (a run
    without an image predictor needs only the mask). Errors as :func:`check_image` and
    :func:`check_mask`."""
    image = None if rgb is None else check_image(rgb)
    return image, check_mask(mask, None if image is None else image.shape[:2])
