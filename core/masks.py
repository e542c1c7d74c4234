"""Binary silhouette masks: GrabCut from a box, PNG in/out, bounding box and IoU (no Qt).

A mask is a boolean (H, W) array, True on the object, indexed ``[row, column]`` = ``[y, x]``.
Boxes are ``(x0, y0, x1, y1)`` in pixel-edge coordinates (x right, y down, origin at the
top-left corner of the image): the box covers the pixels with ``x0 <= column < x1`` and
``y0 <= row < y1``, so a single pixel (i, j) is ``(j, i, j + 1, i + 1)``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MIN_BOX_SIDE = 4  # pixels; GrabCut needs some pixels inside the box to model the object


class MaskError(ValueError):
    """A mask could not be made or read; the message names the file or input and the problem."""


# ----------------------------------------------------------------------------- GrabCut
def grabcut_mask(rgb: np.ndarray, box: Sequence[float], iterations: int = 5,
                 seed: int = 0) -> np.ndarray:
    """Segment the object inside ``box`` with OpenCV's GrabCut (``GC_INIT_WITH_RECT``).

    Args:
        rgb: (H, W, 3) uint8 RGB image.
        box: ``(x0, y0, x1, y1)`` pixel-edge coordinates around the object; it is rounded
            outwards to whole pixels and clipped to the image. Pixels outside the box are
            taken as background, so the box must leave some of the image outside it.
        iterations: GrabCut iterations (>= 1).
        seed: seed of OpenCV's random generator (GrabCut's k-means), for repeatable masks.

    Returns:
        (H, W) bool mask, True on (probable) foreground; never True outside the box.

    Raises:
        MaskError: a box outside the image, smaller than ``MIN_BOX_SIDE`` pixels a side or
            covering the whole image, a bad image array, or no foreground found.
    """
    import cv2

    rgb = _check_rgb(rgb)
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = _pixel_box(box, w, h)
    if iterations < 1:
        raise MaskError(f"GrabCut needs at least 1 iteration (got {iterations})")
    if (x0, y0, x1, y1) == (0, 0, w, h):
        raise MaskError(f"the box covers the whole {w} x {h} image: GrabCut needs background "
                        "pixels outside the box")
    mask = np.zeros((h, w), dtype=np.uint8)
    bgd = np.zeros((1, 65), dtype=np.float64)
    fgd = np.zeros((1, 65), dtype=np.float64)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    cv2.setRNGSeed(int(seed))
    try:
        cv2.grabCut(bgr, mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, int(iterations),
                    cv2.GC_INIT_WITH_RECT)
    except cv2.error as exc:
        raise MaskError(f"GrabCut failed on the {w} x {h} image with box {(x0, y0, x1, y1)}: "
                        f"{str(exc).strip().splitlines()[-1]}") from exc
    out = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if not out.any():
        raise MaskError(f"GrabCut found no object in the box {(x0, y0, x1, y1)}; draw the box "
                        "closer around the object")
    return out


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise MaskError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.dtype} "
                        f"array of shape {rgb.shape}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise MaskError(f"the image is empty (shape {rgb.shape})")
    return rgb


def _pixel_box(box: Sequence[float], w: int, h: int) -> tuple[int, int, int, int]:
    """``box`` rounded outwards to whole pixels and clipped to a w x h image."""
    if len(box) != 4:
        raise MaskError(f"a box is (x0, y0, x1, y1); got {tuple(box)}")
    vals = [float(v) for v in box]
    if not all(math.isfinite(v) for v in vals):
        raise MaskError(f"box coordinates must be finite numbers; got {tuple(box)}")
    bx0, by0, bx1, by1 = vals
    if bx1 <= bx0 or by1 <= by0:
        raise MaskError(f"box {tuple(box)} is empty or inverted: need x0 < x1 and y0 < y1")
    if bx1 <= 0 or by1 <= 0 or bx0 >= w or by0 >= h:
        raise MaskError(f"box {tuple(box)} lies outside the {w} x {h} image")
    x0, y0 = max(0, math.floor(bx0)), max(0, math.floor(by0))
    x1, y1 = min(w, math.ceil(bx1)), min(h, math.ceil(by1))
    if x1 - x0 < MIN_BOX_SIDE or y1 - y0 < MIN_BOX_SIDE:
        raise MaskError(f"box {tuple(box)} is too small: {x1 - x0} x {y1 - y0} pixels inside "
                        f"the image (at least {MIN_BOX_SIDE} x {MIN_BOX_SIDE} needed)")
    return x0, y0, x1, y1


# ----------------------------------------------------------------------------- helpers
def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Tight box ``(x0, y0, x1, y1)`` (pixel edges, x1/y1 exclusive) around a (H, W) mask.

    Raises:
        MaskError: the mask is not 2-D or is empty.
    """
    mask = _check_mask(mask, "mask")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise MaskError(f"the {mask.shape[1]} x {mask.shape[0]} mask is empty: it has no box")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (H, W) masks (nonzero = foreground), in [0, 1].

    Two empty masks are identical: their IoU is 1.0.

    Raises:
        MaskError: the masks are not 2-D or differ in size.
    """
    a, b = _check_mask(a, "first mask"), _check_mask(b, "second mask")
    if a.shape != b.shape:
        raise MaskError(f"masks differ in size: {a.shape[1]} x {a.shape[0]} and "
                        f"{b.shape[1]} x {b.shape[0]} pixels (W x H)")
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def _check_mask(mask: np.ndarray, label: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise MaskError(f"the {label} must be a 2-D (H, W) array, got shape {mask.shape}")
    return mask.astype(bool, copy=False)


# ----------------------------------------------------------------------------- PNG
def mask_from_png(path: str | Path) -> np.ndarray:
    """Read a silhouette mask from a PNG file as an (H, W) bool array.

    With an alpha channel that is not fully opaque, foreground is ``alpha > 0`` (a cut-out);
    otherwise it is any nonzero pixel (white or colored on black; palette images by their
    colors). Only PNG is accepted: lossy formats blur the edge into nonzero noise.

    Raises:
        MaskError: a missing, unreadable or non-PNG file, or an empty mask; the message
            names the file.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise MaskError(f"Mask file not found: {path}")
    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                raise MaskError(f"{path}: masks must be PNG files (lossless), not {img.format}")
            img.load()
            mask = _image_to_mask(img)
    except MaskError:
        raise
    except UnidentifiedImageError as exc:
        raise MaskError(f"{path}: not an image file CorrStudio can read") from exc
    except Image.DecompressionBombError as exc:
        raise MaskError(f"{path}: mask image too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MaskError(f"{path}: broken or truncated PNG ({exc})") from exc
    if not mask.any():
        raise MaskError(f"{path}: the mask is empty (no foreground pixel: every pixel is zero "
                        "or fully transparent)")
    return mask


def _image_to_mask(img) -> np.ndarray:
    """Foreground of a Pillow image: alpha > 0 when it has real transparency, else nonzero."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "I;16", "F"):
        img = img.convert("RGBA")
    arr = np.asarray(img)
    if img.mode in ("LA", "RGBA"):
        alpha = arr[..., -1]
        if (alpha < 255).any():
            return alpha > 0
        arr = arr[..., :-1]
    if arr.ndim == 3:
        return (arr != 0).any(axis=2)
    return arr != 0


def encode_mask_png(mask: np.ndarray) -> bytes:
    """A (H, W) mask (nonzero = foreground) as 1-bit PNG bytes."""
    from PIL import Image

    mask = _check_mask(mask, "mask")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def decode_mask_png(data: bytes, source: str) -> np.ndarray:
    """(H, W) bool mask from PNG bytes (nonzero, or alpha > 0 with transparency, is foreground).

    Raises:
        MaskError: the bytes are not a readable image; the message names ``source``.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return _image_to_mask(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise MaskError(f"{source}: the stored mask cannot be read ({exc})") from exc
