"""Colors of correspondence sets: one distinct color per set number (0..15)."""

from __future__ import annotations

import numpy as np

# 16 distinct colors (uint8 RGB), indexed by set number.
SET_PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195),
], dtype=np.uint8)


def set_colors(numbers: np.ndarray) -> np.ndarray:
    """(K,) set numbers -> (K, 3) uint8 colors (numbers outside 0..15 wrap)."""
    return SET_PALETTE[np.asarray(numbers, dtype=np.int64) % len(SET_PALETTE)]
