"""Reading screenshots in tests: find a view by its background color, count what is drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def hex_rgb(color: str) -> np.ndarray:
    color = color.lstrip("#")
    return np.array([int(color[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.int16)


def region_of_color(img: np.ndarray, color: str, tol: int = 3) -> tuple[int, int, int, int] | None:
    """Bounding box (top, left, bottom, right) of pixels of ``color``, or None."""
    mask = (np.abs(img - hex_rgb(color)).max(axis=-1) <= tol)
    if mask.sum() < 100:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def fraction_not_color(img: np.ndarray, box, color: str, tol: int = 12) -> float:
    top, left, bottom, right = box
    crop = img[top:bottom, left:right]
    return float((np.abs(crop - hex_rgb(color)).max(axis=-1) > tol).mean())


def count_palette_pixels(img: np.ndarray, box, palette: np.ndarray, tol: int = 40) -> int:
    """Pixels in ``box`` close to a saturated palette color (keypoint markers)."""
    top, left, bottom, right = box
    crop = img[top:bottom, left:right].reshape(-1, 3)
    sat = crop.max(axis=1) - crop.min(axis=1)
    crop = crop[sat > 80]  # ignore the grey mesh and background
    if crop.size == 0:
        return 0
    dist = np.abs(crop[:, None, :] - palette[None, :, :].astype(np.int16)).max(axis=-1)
    return int((dist.min(axis=1) <= tol).sum())
