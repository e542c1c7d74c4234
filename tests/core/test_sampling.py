"""Surface sampling: area-weighted, on the surface, deterministic; keypoints inserted."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.sampling import insert_keypoints, sample_surface


def _two_triangles():
    # a 1x1 square (area 1) and a 2x2 square (area 4), far apart, in the z=0 plane
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                  [10, 0, 0], [12, 0, 0], [12, 2, 0], [10, 2, 0]], dtype=float)
    f = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    return v, f


def test_samples_follow_area_and_lie_on_faces():
    v, f = _two_triangles()
    s = sample_surface(v, f, n=20000, seed=1)
    big = (s.points[:, 0] >= 10).mean()
    assert big == pytest.approx(0.8, abs=0.02)  # 4 / (1 + 4)
    np.testing.assert_allclose(np.einsum("ni,nij->nj", s.bary, v[f[s.faces]]), s.points)
    assert (s.bary >= 0).all() and np.allclose(s.bary.sum(1), 1)


def test_deterministic_for_a_seed():
    v, f = _two_triangles()
    a, b, c = (sample_surface(v, f, 64, seed) for seed in (3, 3, 4))
    assert np.array_equal(a.points, b.points) and not np.array_equal(a.points, c.points)


def test_keypoints_replace_their_nearest_samples():
    v, f = _two_triangles()
    s = sample_surface(v, f, 500, seed=0)
    kp = np.array([[0.5, 0.5, 0.0], [11, 1, 0], [11, 1, 0]])
    out, idx = insert_keypoints(s, kp, np.array([0, 2, 2]), np.full((3, 3), 1 / 3))
    assert len(set(idx.tolist())) == 3  # the duplicate keypoint gets its own index
    np.testing.assert_array_equal(out.points[idx], kp)
    assert out.faces[idx].tolist() == [0, 2, 2]
    untouched = np.setdiff1d(np.arange(500), idx)
    np.testing.assert_array_equal(out.points[untouched], s.points[untouched])
    # the replaced sample was the nearest one
    d = np.linalg.norm(s.points - kp[0], axis=1)
    assert idx[0] == int(np.argmin(d))


def test_barycentric_on_face_projects_and_clips():
    from core.geometry.surface import barycentric_on_face

    v = np.array([[0, 0, 0], [2, 0, 0], [0, 2, 0]], dtype=float)
    f = np.array([[0, 1, 2]])
    w, xyz = barycentric_on_face(v, f, 0, np.array([0.5, 0.5, 0.3]))  # above the plane
    assert w == pytest.approx((0.5, 0.25, 0.25)) and xyz == pytest.approx((0.5, 0.5, 0.0))
    w, xyz = barycentric_on_face(v, f, 0, np.array([-1.0, 1.0, 0.0]))  # outside: clipped
    assert min(w) >= 0 and sum(w) == pytest.approx(1.0) and xyz[0] >= 0
