"""Picking: a pixel's ray and where it first meets the mesh (core.raster.picking).

Projecting a visible surface point and casting the ray of its pixel gives the point back
(face, barycentric weights, depth), for perspective and weak-perspective cameras; the ray of a
pixel off the mesh misses; the front surface wins over the back one; a hidden point's pixel
hits the surface in front of it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from core.cameras import PerspectiveCamera, perspective_to_weak
from core.pose.projection import project_keypoints
from core.raster.interface import project
from core.raster.picking import RayHit, pixel_ray, ray_cast

D = torch.float64


def _sphere():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces, dtype=np.int64)


def _cube():
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    return np.asarray(box.vertices), np.asarray(box.faces, dtype=np.int64)


def _camera(**kw) -> PerspectiveCamera:
    args = dict(azimuth=30, elevation=20, distance=3, fov=40, image_size=(96, 128), dtype=D)
    args.update(kw)
    return PerspectiveCamera.create(**args)


def _surface_points(verts, faces, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    face = rng.integers(0, len(faces), n)
    w = rng.dirichlet(np.ones(3), n)
    return face, w, np.einsum("nk,nkd->nd", w, verts[faces[face]])


def test_pixel_ray_passes_through_the_projected_point():
    verts, faces = _sphere()
    cam = _camera()
    _, _, pts = _surface_points(verts, faces, 20)
    uv, depth = project(cam, pts)
    centre = cam.center()[0].numpy()
    for p, q, d in zip(pts, uv, depth, strict=True):
        origin, direction = pixel_ray(cam, q)
        assert np.allclose(origin, centre)
        assert abs(np.linalg.norm(direction) - 1.0) < 1e-12
        t = float((p - origin) @ direction)
        assert t > 0 and np.linalg.norm(origin + t * direction - p) < 1e-9
        # the ray parameter relates to the camera depth through the ray's z component
        assert abs(t * (cam.rotation()[0].numpy() @ direction)[2] - d) < 1e-9


@pytest.mark.parametrize("weak", [False, True])
def test_ray_cast_of_a_projected_surface_point_returns_it(weak):
    verts, faces = _sphere()
    cam = _camera()
    if weak:
        cam = perspective_to_weak(cam)
    face, w, pts = _surface_points(verts, faces, 60, seed=1)
    kp = project_keypoints(cam, verts, faces, pts, point_faces=face)
    assert kp.visible.sum() >= 10  # about half the sphere faces the camera
    checked = 0
    for i in np.flatnonzero(kp.visible):
        hit = ray_cast(cam, verts, faces, kp.uv[i])
        assert isinstance(hit, RayHit)
        assert np.linalg.norm(hit.xyz - pts[i]) < 1e-6
        assert abs(hit.depth - kp.depth[i]) < 1e-6
        if hit.face == face[i]:  # (a point on a shared edge may report the neighbour)
            assert np.allclose(hit.barycentric, w[i], atol=1e-6)
            checked += 1
        assert abs(hit.barycentric.sum() - 1.0) < 1e-12 and (hit.barycentric >= -1e-12).all()
        assert np.allclose(hit.barycentric @ verts[faces[hit.face]], hit.xyz)
    assert checked >= 5


@pytest.mark.parametrize("weak", [False, True])
def test_a_pixel_off_the_mesh_misses(weak):
    verts, faces = _sphere()
    cam = _camera()
    if weak:
        cam = perspective_to_weak(cam)
    assert ray_cast(cam, verts, faces, (2.0, 2.0)) is None  # image corner: background
    assert ray_cast(cam, verts, faces, (-50.0, 40.0)) is None  # outside the image
    assert ray_cast(cam, verts, faces, (64.0, 48.0)) is not None  # the centre: the sphere
    assert ray_cast(cam, verts, faces[:0], (64.0, 48.0)) is None  # no faces
    assert ray_cast(cam, verts, faces, (np.nan, 1.0)) is None


@pytest.mark.parametrize("weak", [False, True])
def test_the_nearest_surface_wins_and_hidden_points_hit_the_front(weak):
    verts, faces = _cube()
    cam = _camera(azimuth=0, elevation=0, distance=4)
    if weak:
        cam = perspective_to_weak(cam)
    front, back = np.array([[0.1, 0.2, 0.5]]), np.array([[0.1, 0.2, -0.5]])
    uv_front, d_front = project(cam, front)
    hit = ray_cast(cam, verts, faces, uv_front[0])
    assert hit is not None and np.linalg.norm(hit.xyz - front[0]) < 1e-9
    assert abs(hit.depth - d_front[0]) < 1e-9
    # the back point's pixel: the front face is hit, nearer than the back point
    uv_back, d_back = project(cam, back)
    hit = ray_cast(cam, verts, faces, uv_back[0])
    assert hit is not None and hit.xyz[2] == pytest.approx(0.5) and hit.depth < d_back[0]


def test_a_camera_inside_the_mesh_hits_in_front_only():
    verts, faces = _cube()
    cam = _camera(azimuth=0, elevation=0, distance=0.2)  # camera at z = 0.2, in the cube
    hit = ray_cast(cam, verts, faces, (64.0, 48.0))
    assert hit is not None and hit.depth > 0
    assert hit.xyz[2] == pytest.approx(-0.5)  # the far wall in front, not the wall behind


def test_batches_are_refused():
    verts, faces = _sphere()
    cams = PerspectiveCamera.create(azimuth=[0.0, 10.0], image_size=(32, 32), dtype=D)
    with pytest.raises(ValueError, match="batch of one"):
        ray_cast(cams, verts, faces, (16.0, 16.0))
    with pytest.raises(ValueError, match="batch of one"):
        pixel_ray(cams, (16.0, 16.0))
