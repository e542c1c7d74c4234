"""Silhouette masks: GrabCut from a box on a synthetic scene, bbox/IoU helpers, mask PNGs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.masks import (
    MaskError,
    decode_mask_png,
    encode_mask_png,
    grabcut_mask,
    mask_bbox,
    mask_from_png,
    mask_iou,
)


def _scene(seed: int, h: int = 160, w: int = 200, noise: float = 25.0):
    """A striped red ellipse on a noisy blue-green checkerboard.

    Returns (rgb (H, W, 3) uint8, true mask (H, W) bool, box (x0, y0, x1, y1) 12 px around
    the ellipse)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    checker = (((xx // 7) + (yy // 9)) % 2).astype(float)
    bg = np.stack([60 + 50 * checker, 110 + 40 * checker, 140 - 40 * checker], -1)
    bg += rng.normal(0, noise, (h, w, 3))
    cx, cy, ax, ay = w * 0.48, h * 0.53, w * 0.26, h * 0.31
    ellipse = ((xx + 0.5 - cx) / ax) ** 2 + ((yy + 0.5 - cy) / ay) ** 2 <= 1  # pixel centers
    stripes = ((xx + yy) // 6 % 2).astype(float)[..., None]
    fg = np.array([210, 70, 50]) + stripes * np.array([30, 60, 0])
    fg = fg + rng.normal(0, noise, (h, w, 3))
    rgb = np.clip(np.where(ellipse[..., None], fg, bg), 0, 255).astype(np.uint8)
    return rgb, ellipse, (cx - ax - 12, cy - ay - 12, cx + ax + 12, cy + ay + 12)


# ----------------------------------------------------------------------------- GrabCut
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grabcut_recovers_the_ellipse(seed):
    rgb, truth, box = _scene(seed)
    mask = grabcut_mask(rgb, box)
    assert mask.shape == truth.shape and mask.dtype == bool
    assert mask_iou(mask, truth) > 0.9  # measured: 0.9998-1.0 on seeds 0-7
    # the box itself is a poor mask (IoU ~0.5): GrabCut did the work
    box_mask = np.zeros_like(truth)
    x0, y0, x1, y1 = (round(v) for v in box)
    box_mask[y0:y1, x0:x1] = True
    assert mask_iou(box_mask, truth) < 0.6
    assert not (mask & ~box_mask).any()  # nothing outside the box


def test_grabcut_is_repeatable_and_clips_a_box_past_the_edge():
    rgb, truth, (x0, y0, x1, y1) = _scene(3)
    a = grabcut_mask(rgb, (x0, y0, x1, y1), iterations=3)
    b = grabcut_mask(rgb, (x0, y0, x1, y1), iterations=3)
    assert np.array_equal(a, b)
    h, w = truth.shape
    # a box dragged past the left/top edges is clipped to the image, not refused
    shifted = np.zeros_like(rgb)
    shifted[:h - 20, :w - 40] = rgb[20:, 40:]
    truth_shifted = np.zeros_like(truth)
    truth_shifted[:h - 20, :w - 40] = truth[20:, 40:]
    out = grabcut_mask(shifted, (-50, -50, x1 - 40, y1 - 20))
    assert mask_iou(out, truth_shifted) > 0.85


@pytest.mark.parametrize("box, message", [
    ((250, 10, 300, 60), "outside"),
    ((-30, -30, -1, -1), "outside"),
    ((10, 10, 12, 40), "too small"),
    ((198, 10, 260, 60), "too small"),  # 2 pixels left inside the image
    ((0, 0, 200, 160), "whole"),
    ((-5, -5, 500, 500), "whole"),
    ((60, 60, 20, 90), "inverted"),
    ((10, 10, float("nan"), 40), "finite"),
    ((10, 10, 40), r"\(x0, y0, x1, y1\)"),
])
def test_grabcut_bad_boxes_are_refused(box, message):
    rgb, _truth, _box = _scene(0)
    with pytest.raises(MaskError, match=message):
        grabcut_mask(rgb, box)


def test_grabcut_bad_inputs_are_refused():
    rgb, _truth, box = _scene(0)
    with pytest.raises(MaskError, match="uint8"):
        grabcut_mask(rgb.astype(np.float32), box)
    with pytest.raises(MaskError, match=r"\(H, W, 3\)"):
        grabcut_mask(rgb[:, :, 0], box)
    with pytest.raises(MaskError, match="iteration"):
        grabcut_mask(rgb, box, iterations=0)


def test_grabcut_uniform_image_finds_no_object():
    rgb = np.full((60, 80, 3), 128, np.uint8)
    with pytest.raises(MaskError, match="no object in the box"):
        grabcut_mask(rgb, (20, 15, 60, 45))


# ----------------------------------------------------------------------------- helpers
def test_mask_bbox_uses_pixel_edges():
    mask = np.zeros((10, 12), bool)
    mask[3, 5] = True
    assert mask_bbox(mask) == (5, 3, 6, 4)  # one pixel: (j, i, j + 1, i + 1)
    mask[7, 1] = True
    assert mask_bbox(mask) == (1, 3, 6, 8)
    assert mask_bbox(np.ones((4, 9), np.uint8)) == (0, 0, 9, 4)
    with pytest.raises(MaskError, match="empty"):
        mask_bbox(np.zeros((4, 4), bool))
    with pytest.raises(MaskError, match="2-D"):
        mask_bbox(np.zeros((4, 4, 1), bool))


def test_mask_iou_values_and_errors():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True  # 8 pixels
    b[1:3] = True  # 8 pixels, 4 shared
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    assert mask_iou(a, a) == 1.0
    assert mask_iou(a, ~a) == 0.0
    assert mask_iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    with pytest.raises(MaskError, match=r"4 x 4 and 5 x 4"):
        mask_iou(a, np.zeros((4, 5), bool))


# ------------------------------------------------------------------------------ PNG
def _ring(h: int = 20, w: int = 30) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[4:15, 6:25] = True
    mask[8:11, 12:18] = False
    return mask


def test_mask_png_round_trip_is_exact_and_small():
    mask = _ring()
    data = encode_mask_png(mask)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(decode_mask_png(data, "x"), mask)
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "1"


def test_mask_from_png_alpha_cutout(tmp_path):
    truth = _ring()
    rgba = np.zeros((*truth.shape, 4), np.uint8)
    rgba[..., :3] = 255  # color everywhere: only alpha tells the object
    rgba[..., 3] = np.where(truth, 200, 0)
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    assert np.array_equal(mask_from_png(tmp_path / "cut.png"), truth)


def test_mask_from_png_opaque_and_gray_use_nonzero_pixels(tmp_path):
    truth = _ring()
    rgba = np.zeros((*truth.shape, 4), np.uint8)
    rgba[..., 3] = 255  # fully opaque: alpha says nothing, the colors do
    rgba[truth, 0] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    assert np.array_equal(mask_from_png(tmp_path / "opaque.png"), truth)
    gray = np.where(truth, 1, 0).astype(np.uint8)  # even 1 counts as foreground
    Image.fromarray(gray, "L").save(tmp_path / "gray.png")
    assert np.array_equal(mask_from_png(tmp_path / "gray.png"), truth)
    Image.fromarray(truth).save(tmp_path / "bits.png")
    assert np.array_equal(mask_from_png(tmp_path / "bits.png"), truth)


def test_mask_from_png_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(MaskError, match="not found.*nope.png"):
        mask_from_png(missing)
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(empty)
    with pytest.raises(MaskError, match="empty.png.*empty"):
        mask_from_png(empty)
    clear = tmp_path / "clear.png"
    Image.fromarray(np.zeros((8, 8, 4), np.uint8), "RGBA").save(clear)
    with pytest.raises(MaskError, match="clear.png.*empty"):
        mask_from_png(clear)
    jpg = tmp_path / "mask.jpg"
    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(jpg)
    with pytest.raises(MaskError, match="mask.jpg.*PNG.*JPEG"):
        mask_from_png(jpg)
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not a png at all" * 10)
    with pytest.raises(MaskError, match="garbage.png.*not an image"):
        mask_from_png(garbage)
    good = tmp_path / "good.png"
    Image.fromarray(_ring()).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(MaskError, match="truncated.png.*(broken|truncated)"):
        mask_from_png(truncated)
