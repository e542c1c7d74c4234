"""2D points given rather than predicted (clicked on a project image, or a synthetic view's
truth) drive TTP and the refinement: label mapping from the store's correspondence sets, and
a reconstruction whose TTP stage runs on them with no image networks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from core.reconstruct.given_keypoints import (
    GivenKeypoints,
    given_keypoints,
    image_keypoints_for_space,
)
from core.reconstruct.pipeline import iter_reconstruct, reconstruct
from core.store import ProjectStore
from core.store.image_store import add_image, set_image_keypoint
from tests.core.test_reconstruct import ready, space, space_view  # noqa: F401 (fixtures)


def test_points_follow_the_labels_and_missing_or_bad_ones_weigh_nothing():
    labels = ("ann:0", "ann:1", "ann:2", "bob:0")
    given = given_keypoints("mug", labels, {"ann:2": (5.0, 6.0), "ann:0": (1.0, 2.0),
                                            "bob:0": (np.nan, 3.0), "zed:9": (7.0, 7.0)},
                            "test")
    np.testing.assert_array_equal(given.weights, [1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(given.uv[[0, 2]], [[1.0, 2.0], [5.0, 6.0]])
    assert np.isnan(given.uv[[1, 3]]).all() and given.count == 2
    p = given.predict(None)
    assert p.labels == labels and p.viewpoint_probs is None
    np.testing.assert_array_equal(p.visibility, given.weights)


def test_points_clicked_on_a_project_image_map_to_annotator_and_set_number(db_target,
                                                                          tmp_path):
    store = ProjectStore.create(db_target)
    try:
        mug = store.add_category("mug")
        alice = store.add_annotator("alice")
        bob = store.add_annotator("bob")
        a_sets = store.add_sets(alice, mug, [(0, "rim"), (3, "handle")])
        b_sets = store.add_sets(bob, mug, [(0, "base")])
        path = tmp_path / "photo.png"
        PILImage.fromarray(np.zeros((20, 30, 3), np.uint8)).save(path)
        image_id = add_image(store, "mug", path).id
        set_image_keypoint(store, image_id, a_sets[3], 12.5, 7.0, "visible")
        set_image_keypoint(store, image_id, b_sets[0], 3.0, 4.0, "occluded")
        set_image_keypoint(store, image_id, a_sets[0], None, None, "absent")
        labels = ("alice:0", "alice:3", "bob:0", "carol:1")
        given = image_keypoints_for_space(store, image_id, "mug", labels)
    finally:
        store.close()
    assert isinstance(given, GivenKeypoints) and given.origin == "clicked on the image"
    np.testing.assert_array_equal(given.weights, [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(given.uv[1:3], [[12.5, 7.0], [3.0, 4.0]])


def test_ttp_runs_on_given_points_without_image_networks(space):  # noqa: F811
    c_true = np.random.default_rng(4).normal(size=space.k)
    _vertices, _camera, mask, kp = space_view(space, c_true, 60.0, 15.0)
    points = {label: tuple(kp.uv[j]) for j, label in enumerate(space.labels)
              if kp.visible[j]}
    given = given_keypoints(space.category, tuple(space.labels), points, "truth")
    assert given.count >= 3
    rgb = np.zeros((*mask.shape, 3), np.uint8)  # given points do not look at it
    stages = [e.stage for e in iter_reconstruct(rgb, mask, space, given, objective="fast",
                                                steps=0, screen=0)]
    assert "ttp" in stages and "refine" in stages[-2:] and stages[-1] == "done"
    # the chosen start and its evaluation only: no screening, no refinement steps
    assert stages.count("refine") <= 2
    with_points = reconstruct(rgb, mask, space, given, objective="fast", steps=20)
    without = reconstruct(rgb, mask, space, None, objective="fast", steps=20)
    err_with = np.nanmedian(np.linalg.norm(with_points.uv - kp.uv, axis=1)[kp.visible])
    err_without = np.nanmedian(np.linalg.norm(without.uv - kp.uv, axis=1)[kp.visible])
    print(f"keypoint median error: given points {err_with:.2f} px, silhouette only "
          f"{err_without:.2f} px")
    assert "ttp" in with_points.iou and "ttp" not in without.iou
    assert err_with <= err_without + 0.5


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_positions_are_not_given(bad):
    given = given_keypoints("mug", ("a:0",), {"a:0": (bad, 1.0)}, "t")
    assert given.count == 0
