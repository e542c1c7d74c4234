"""Cameras: projection of known points, conversions round-trip, pytorch3d agreement."""

from __future__ import annotations

import math

import pytest
import torch

from core.cameras import (
    CameraError,
    PerspectiveCamera,
    WeakPerspectiveCamera,
    camera_from_dict,
    look_at_rotation,
    perspective_to_weak,
    rotation_angle_deg,
    to_pytorch3d,
    weak_to_perspective,
)
from core.cameras.rotations import look_at_angles

D = torch.float64


def _random_cameras(n: int, seed: int = 0) -> PerspectiveCamera:
    g = torch.Generator().manual_seed(seed)

    def uni(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    return PerspectiveCamera.create(
        azimuth=uni(-180, 180, n), elevation=uni(-80, 80, n), distance=uni(2, 6, n),
        roll=uni(-30, 30, n), fov=uni(20, 60, n), principal=uni(100, 150, n, 2),
        target=uni(-0.3, 0.3, n, 3), image_size=(240, 320), dtype=torch.float64)


def test_projection_of_known_points():
    # Camera on +Z at distance 4 looking at the origin; 90 degree vertical fov on a 200x200
    # image -> f = 100 px; principal point at the image centre (100, 100).
    cam = PerspectiveCamera.create(azimuth=0, elevation=0, distance=4, fov=90,
                                   image_size=(200, 200), dtype=torch.float64)
    pts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]],
                       dtype=D)
    uv, depth = cam.project(pts)
    # World +X is image right, world +Y is image up (pixel y decreases).
    expected = torch.tensor([[100.0, 100.0], [125.0, 100.0], [100.0, 75.0], [100.0, 100.0]],
                            dtype=D)
    assert torch.allclose(uv[0], expected, atol=1e-9)
    assert torch.allclose(depth[0], torch.tensor([4.0, 4.0, 4.0, 2.0], dtype=D), atol=1e-9)
    # Camera at azimuth 90 sits on +X: world +Z is then image left.
    cam90 = PerspectiveCamera.create(azimuth=90, elevation=0, distance=4, fov=90,
                                     image_size=(200, 200), dtype=torch.float64)
    uv90, _ = cam90.project(torch.tensor([[0.0, 0.0, 1.0]], dtype=D))
    assert uv90[0, 0, 0] < 100 - 20
    assert torch.allclose(cam90.center()[0], torch.tensor([4.0, 0.0, 0.0], dtype=D), atol=1e-9)


def test_look_at_rotation_is_proper_and_angles_round_trip():
    cams = _random_cameras(64)
    rot = cams.rotation()
    eye = torch.eye(3, dtype=D).expand(64, 3, 3)
    assert torch.allclose(rot @ rot.transpose(-1, -2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(64, dtype=D), atol=1e-12)
    az, el, roll = look_at_angles(rot)
    assert torch.allclose(look_at_rotation(az, el, roll), rot, atol=1e-9)
    daz = torch.remainder(az - cams.azimuth + 180, 360) - 180
    assert daz.abs().max() < 1e-6
    assert torch.allclose(el, cams.elevation, atol=1e-6)
    assert torch.allclose(roll, cams.roll, atol=1e-6)


def test_straight_down_camera_is_well_defined():
    cam = PerspectiveCamera.create(azimuth=30, elevation=90, distance=3, image_size=(64, 64),
                                   dtype=torch.float64)
    rot = cam.rotation()
    assert torch.isfinite(rot).all()
    assert torch.allclose(rot[0, 2], torch.tensor([0.0, -1.0, 0.0], dtype=D), atol=1e-12)
    uv, depth = cam.project(torch.zeros(1, 3, dtype=D))
    assert torch.allclose(uv[0, 0], torch.tensor([32.0, 32.0], dtype=D))
    assert torch.allclose(depth, torch.tensor([[3.0]], dtype=D))


def test_extrinsics_round_trip_reproduces_projection():
    cams = _random_cameras(32, seed=1)
    back = PerspectiveCamera.from_extrinsics(cams.rotation(), cams.translation(), cams.fov,
                                             cams.image_size, cams.principal)
    pts = torch.randn(50, 3, generator=torch.Generator().manual_seed(3), dtype=D) * 0.5
    uv_a, d_a = cams.project(pts)
    uv_b, d_b = back.project(pts)
    assert torch.allclose(uv_a, uv_b, atol=1e-7)
    assert torch.allclose(d_a, d_b, atol=1e-9)


def test_perspective_weak_round_trip():
    cams = _random_cameras(16, seed=2)
    weak = perspective_to_weak(cams)
    # Exact at the reference point (the target).
    uv_p, _ = cams.project(cams.target.unsqueeze(1))
    uv_w, _ = weak.project(cams.target.unsqueeze(1))
    assert torch.allclose(uv_p, uv_w, atol=1e-8)
    assert rotation_angle_deg(weak.rotation, cams.rotation()).max() < 1e-4
    back = weak_to_perspective(weak, fov=cams.fov, reference=cams.target,
                               principal=cams.principal)
    assert rotation_angle_deg(back.rotation(), cams.rotation()).max() < 1e-5
    assert torch.allclose(back.center(), cams.center(), atol=1e-6)
    uv_b, _ = back.project(cams.target.unsqueeze(1))
    assert torch.allclose(uv_b, uv_p, atol=1e-6)


def test_weak_perspective_approximates_a_far_camera():
    # Far camera, narrow fov: weak perspective is within a fraction of a pixel.
    cam = PerspectiveCamera.create(azimuth=40, elevation=20, distance=200, fov=0.6,
                                   image_size=(256, 256), dtype=torch.float64)
    pts = torch.randn(100, 3, generator=torch.Generator().manual_seed(0), dtype=D) * 0.3
    uv_p, _ = cam.project(pts)
    uv_w, _ = perspective_to_weak(cam).project(pts)
    assert (uv_p - uv_w).norm(dim=-1).max() < 0.5
    # ...and noticeably off for a close camera (the test can tell the two apart).
    near = PerspectiveCamera.create(azimuth=40, elevation=20, distance=1.5, fov=60.0,
                                    image_size=(256, 256), dtype=torch.float64)
    uv_pn, _ = near.project(pts)
    uv_wn, _ = perspective_to_weak(near).project(pts)
    assert (uv_pn - uv_wn).norm(dim=-1).max() > 2.0


def test_matches_pytorch3d_screen_projection():
    cams = _random_cameras(8, seed=4).to(dtype=torch.float32)  # pytorch3d works in float32
    pts = torch.randn(8, 30, 3, generator=torch.Generator().manual_seed(5)) * 0.4
    ours, depth = cams.project(pts)
    p3d = to_pytorch3d(cams).transform_points_screen(pts)
    assert torch.allclose(p3d[..., :2], ours, atol=2e-3)
    weak = perspective_to_weak(cams)
    ours_w, _ = weak.project(pts)
    p3d_w = to_pytorch3d(weak).transform_points_screen(pts)
    assert torch.allclose(p3d_w[..., :2], ours_w, atol=2e-3)


def test_gradients_flow_to_every_parameter():
    cam = PerspectiveCamera.create(azimuth=10, elevation=15, distance=3, roll=5, fov=40,
                                   image_size=(128, 128), dtype=torch.float64)
    params = [cam.azimuth, cam.elevation, cam.distance, cam.roll, cam.fov, cam.principal,
              cam.target]
    for p in params:
        p.requires_grad_(True)
    uv, _ = cam.project(torch.tensor([[0.3, 0.2, -0.1], [-0.2, 0.1, 0.3]], dtype=D))
    uv.sum().backward()
    for p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_dict_round_trip_and_bad_records():
    cam = _random_cameras(1, seed=6)
    again = camera_from_dict(cam.to_dict())
    assert torch.allclose(again.rotation().double(), cam.rotation(), atol=1e-5)
    weak = perspective_to_weak(cam)
    again_w = camera_from_dict(weak.to_dict(), dtype=torch.float64)
    assert torch.allclose(again_w.rotation, weak.rotation)
    with pytest.raises(CameraError, match="distance"):
        camera_from_dict({**cam.to_dict(), "distance": -1.0})
    with pytest.raises(CameraError, match="not finite"):
        camera_from_dict({**cam.to_dict(), "azimuth": math.nan})
    with pytest.raises(CameraError, match="bad perspective camera record"):
        camera_from_dict({"type": "perspective", "azimuth": 1})
    with pytest.raises(CameraError, match="unknown camera record type"):
        camera_from_dict({"type": "fisheye"})
    with pytest.raises(CameraError, match="rotation"):
        camera_from_dict({**weak.to_dict(), "rotation": [[2, 0, 0], [0, 1, 0], [0, 0, 1]]})


def test_points_behind_camera_stay_finite_and_are_reported():
    cam = PerspectiveCamera.create(azimuth=0, elevation=0, distance=1.0, image_size=(64, 64),
                                   dtype=torch.float64)
    pts = torch.tensor([[0.0, 0.0, 2.0], [0.1, 0.0, 0.0]], dtype=D)  # first is behind the camera
    uv, depth = cam.project(pts)
    assert torch.isfinite(uv).all()
    assert depth[0, 0] < 0 < depth[0, 1]
    with pytest.raises(CameraError, match="behind"):
        cam.require_in_front(pts)


def test_weak_camera_validation():
    bad = WeakPerspectiveCamera(torch.tensor([-1.0]), torch.eye(3).unsqueeze(0),
                                torch.zeros(1, 2), (32, 32))
    with pytest.raises(CameraError, match="scale"):
        bad.validate()
