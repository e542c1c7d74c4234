"""PCK (Eq. 2 of the 2D-3D-2D paper) on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.pose.errors import PoseError
from core.pose.pck import pck, pck_report


def test_pck_counts_distance_equal_to_threshold_as_correct():
    gt = np.array([[10.0, 10.0], [20.0, 20.0], [30.0, 30.0], [40.0, 40.0]])
    # Errors: 0, 5 (3-4-5), 5.000001, 100.
    pred = gt + np.array([[0.0, 0.0], [3.0, 4.0], [5.000001, 0.0], [100.0, 0.0]])
    value, correct = pck(pred, gt, np.ones(4, dtype=bool), threshold_px=5.0)
    assert value == pytest.approx(0.5)
    assert correct.tolist() == [True, True, False, False]


def test_pck_ignores_invalid_points_and_fails_non_finite_predictions():
    gt = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    pred = np.array([[1.0, 0.0], [np.nan, np.nan], [np.inf, 0.0]])
    valid = np.array([True, True, False])
    value, correct = pck(pred, gt, valid, threshold_px=2.0)
    assert value == pytest.approx(0.5)  # 1 of the 2 valid points
    assert correct.tolist() == [True, False, False]
    value, correct = pck(pred, gt, np.zeros(3, dtype=bool), threshold_px=2.0)
    assert math.isnan(value) and not correct.any()


def test_pck_report_uses_alpha_times_longer_side_of_each_normaliser():
    # Image 100 (h) x 200 (w): threshold 0.1 * 200 = 20 px.
    # Object mask box: rows 10..29 (20 px), cols 50..89 (40 px): 0.1 * 40 = 4 px.
    # Valid gt keypoints span x 55..85 (30) and y 12..28 (16): 0.1 * 30 = 3 px.
    mask = np.zeros((100, 200), dtype=bool)
    mask[10:30, 50:90] = True
    gt = np.array([[55.0, 12.0], [85.0, 28.0], [70.0, 20.0], [60.0, 15.0], [0.0, 0.0]])
    err = np.array([2.0, 3.0, 3.5, 15.0, 0.0])  # along x
    pred = gt + np.stack([err, np.zeros(5)], axis=1)
    valid = np.array([True, True, True, True, False])
    rep = pck_report(pred, gt, valid, (100, 200), mask=mask, alpha=0.1)
    assert rep.thresholds == pytest.approx({"image": 20.0, "object_box": 4.0,
                                            "keypoint_box": 3.0})
    assert rep.n_valid == 4
    assert rep.image == pytest.approx(1.0)  # all of 2, 3, 3.5, 15 <= 20
    assert rep.object_box == pytest.approx(0.75)  # 2, 3, 3.5 <= 4
    assert rep.keypoint_box == pytest.approx(0.5)  # 2, 3 <= 3
    assert rep.correct["keypoint_box"].tolist() == [True, True, False, False, False]


def test_pck_report_without_mask_and_with_a_single_keypoint():
    gt = np.array([[5.0, 5.0]])
    rep = pck_report(gt + 1.0, gt, None, (64, 48), alpha=0.05)
    assert rep.object_box is None and rep.keypoint_box is None
    assert rep.thresholds == {"image": pytest.approx(3.2)}
    assert rep.image == pytest.approx(1.0)  # error sqrt(2) <= 3.2


def test_pck_bad_input_names_the_problem():
    gt = np.zeros((3, 2))
    with pytest.raises(PoseError, match="must both be"):
        pck(np.zeros((2, 2)), gt, None, 1.0)
    with pytest.raises(PoseError, match="valid must be"):
        pck(gt, gt, np.ones(3), 1.0)
    with pytest.raises(PoseError, match="threshold"):
        pck(gt, gt, None, -1.0)
    with pytest.raises(PoseError, match="finite"):
        pck(gt, np.full((3, 2), np.nan), None, 1.0)
    with pytest.raises(PoseError, match="10x12 .* 20x30"):
        pck_report(gt, gt, None, (20, 30), mask=np.ones((10, 12), dtype=bool))
    with pytest.raises(PoseError, match="empty"):
        pck_report(gt, gt, None, (20, 30), mask=np.zeros((20, 30), dtype=bool))
    with pytest.raises(PoseError, match="alpha"):
        pck_report(gt, gt, None, (20, 30), alpha=0.0)
