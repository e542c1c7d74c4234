"""Image files: read as RGB arrays with clear errors (no Qt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_PIXELS = 80_000_000  # refuse images above ~80 MP (decompression bombs, memory)


class ImageError(ValueError):
    """An image could not be read; the message names the file and the problem."""


def load_image_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array.

    Raises:
        ImageError: missing file, not an image, truncated/corrupt data, or too large.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"Image file not found: {path}")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{path}: image too large ({w} x {h} pixels; "
                                 f"the limit is {MAX_PIXELS:,} pixels)")
            img.load()
            rgb = img.convert("RGB")
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{path}: not an image file CorrStudio can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: broken or truncated image ({exc})") from exc
    return np.asarray(rgb, dtype=np.uint8).copy()
