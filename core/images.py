"""Image files: read as RGB arrays with clear errors (no Qt).

Pixel convention used throughout CorrStudio: x to the right, y down, in pixels, origin at
the top-left corner of the image; the center of pixel (row i, column j) is at
``(j + 0.5, i + 0.5)``. Arrays are indexed ``[row, column]`` = ``[y, x]``. EXIF orientation
tags are not applied: coordinates refer to the stored pixel grid.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

MAX_PIXELS = 80_000_000  # refuse images above ~80 MP (decompression bombs, memory)


class ImageError(ValueError):
    """An image could not be read; the message names the file and the problem."""


def probe_image(data: bytes, source: str | Path,
                max_pixels: int = MAX_PIXELS) -> tuple[str, int, int]:
    """Format and size of an encoded image from its header, without decoding pixels.

    Args:
        data: the encoded file bytes.
        source: the file (or label) named in error messages.
        max_pixels: images with more than this many pixels (width * height) are refused.

    Returns:
        ``(format, width, height)``: Pillow's format name (``"PNG"``, ``"JPEG"``, ...) and
        the size in pixels.

    Raises:
        ImageError: not an image, a broken header, or more pixels than ``max_pixels``.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (w, h) = str(img.format), img.size
    except UnidentifiedImageError as exc:
        raise ImageError(f"{source}: not an image file CorrStudio can read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{source}: image too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{source}: broken or truncated image ({exc})") from exc
    _check_pixels(source, w, h, max_pixels)
    return fmt, w, h


def decode_image_rgb(data: bytes, source: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, ...) as an (H, W, 3) uint8 RGB array.

    ``source`` is the file (or label) named in error messages. The size is checked from the
    header before any pixel is decoded.

    Raises:
        ImageError: not an image, truncated/corrupt data, or more pixels than ``max_pixels``.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
            _check_pixels(source, w, h, max_pixels)
            img.load()
            rgb = img.convert("RGB")
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{source}: not an image file CorrStudio can read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{source}: image too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{source}: broken or truncated image ({exc})") from exc
    return np.asarray(rgb, dtype=np.uint8).copy()


def load_image_rgb(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array.

    Raises:
        ImageError: missing file, not an image, truncated/corrupt data, or too large.
    """
    path = Path(path)
    return decode_image_rgb(read_image_bytes(path), path, max_pixels)


def read_image_bytes(path: str | Path) -> bytes:
    """The bytes of an image file.

    Raises:
        ImageError: the file is missing, a folder, or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"Image file not found: {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc


def _check_pixels(source: str | Path, w: int, h: int, max_pixels: int) -> None:
    if w * h > max_pixels:
        raise ImageError(f"{source}: image too large ({w} x {h} pixels; "
                         f"the limit is {max_pixels:,} pixels)")
    if w <= 0 or h <= 0:
        raise ImageError(f"{source}: the image is empty ({w} x {h} pixels)")
