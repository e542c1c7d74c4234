"""Geodesics from surface samples: accuracy on a unit sphere for every mode, +inf between
components, and the disk cache (hits skip the solver; corrupt files are recomputed).

Measured on an icosphere (subdivision 5, 10 242 vertices), 2048 area-weighted samples,
16 sources, against great-circle distances between the normalized samples (relative
error, pairs more than 0.2 rad apart and less than pi - 0.2):

=============  ==========  ===========  =========
mode           max error   mean error   time
=============  ==========  ===========  =========
mesh_heat      1.2 %       0.5 %        0.3 s
cloud_heat     4.0 %       1.5 %        0.08 s
knn (k=20)     25 %        1.3 %        0.02 s
=============  ==========  ===========  =========

Between 0.05 and 0.2 rad: mesh_heat 0.2 %, cloud_heat 7 %, knn 49 % at most. ``knn``
over-estimates short distances (a path of a few graph edges zig-zags), which is why its
bounds are loose; no mode under-estimates the chord.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

import core.geometry.geodesics as geodesics_module
from core.geometry.geodesics import (
    CACHE_VERSION,
    default_cache_dir,
    geodesic_cache_key,
    geodesics_from_sources,
)
from core.geometry.sampling import SurfaceSample, insert_keypoints, sample_surface

MODES = ("mesh_heat", "cloud_heat", "knn")
SOURCES = np.arange(0, 2048, 128)  # 16 sources
# (max relative error, mean relative error) allowed beyond 0.2 rad, per mode.
BOUNDS = {"mesh_heat": (0.02, 0.008), "cloud_heat": (0.06, 0.025), "knn": (0.35, 0.02)}


@pytest.fixture(scope="module")
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=5)
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    return v, f, sample_surface(v, f, n=2048, seed=1)


@pytest.fixture(scope="module")
def sphere_results(sphere):
    v, f, s = sphere
    return {mode: geodesics_from_sources(v, f, s, SOURCES, mode=mode) for mode in MODES}


def _great_circle(points: np.ndarray, sources: np.ndarray) -> np.ndarray:
    u = points / np.linalg.norm(points, axis=1, keepdims=True)
    return np.arccos(np.clip(u[sources] @ u.T, -1.0, 1.0))


@pytest.mark.parametrize("mode", MODES)
def test_sphere_matches_great_circle_distances(sphere, sphere_results, mode):
    v, f, s = sphere
    d = sphere_results[mode]
    gt = _great_circle(s.points, SOURCES)
    assert d.shape == (16, 2048) and d.dtype == np.float64
    assert np.all(np.isfinite(d))
    np.testing.assert_array_equal(d[np.arange(16), SOURCES], 0.0)
    far = (gt > 0.2) & (gt < np.pi - 0.2)
    rel = np.abs(d[far] - gt[far]) / gt[far]
    max_bound, mean_bound = BOUNDS[mode]
    assert rel.max() < max_bound, (mode, rel.max())
    assert rel.mean() < mean_bound, (mode, rel.mean())
    # no path on the surface is shorter than the chord
    chord = np.linalg.norm(s.points[SOURCES][:, None] - s.points[None], axis=2)
    assert np.all(d >= chord - 1e-9)


def test_mesh_heat_is_accurate_near_the_source_too(sphere, sphere_results):
    """Between 0.05 and 0.2 rad (1.3 to 5 edge lengths): the squared-distance blend
    measures 0.2 % at most; a plain barycentric blend of the vertex distances reaches
    0.8 % here (20 % at subdivision 4), the nearest vertex plus offset over 5 %."""
    _, _, s = sphere
    gt = _great_circle(s.points, SOURCES)
    near = (gt > 0.05) & (gt <= 0.2)
    d = sphere_results["mesh_heat"]
    assert near.sum() > 50
    assert (np.abs(d[near] - gt[near]) / gt[near]).max() < 0.004


def test_mesh_heat_locates_keypoints_without_a_face(sphere, sphere_results):
    v, f, s = sphere
    rng = np.random.default_rng(5)
    xyz = rng.normal(size=(6, 3))
    xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)  # on the sphere, off the mesh a bit
    s2, idx = insert_keypoints(s, xyz)  # faces -1, bary NaN
    assert (s2.faces[idx] == -1).all()
    d = geodesics_from_sources(v, f, s2, idx)
    gt = _great_circle(s2.points, idx)
    far = (gt > 0.2) & (gt < np.pi - 0.2)
    assert np.all(np.isfinite(d))
    assert (np.abs(d[far] - gt[far]) / gt[far]).max() < 0.02


def _two_spheres(n=1200, seed=0):
    a = trimesh.creation.icosphere(subdivisions=3)
    v = np.concatenate([a.vertices, a.vertices + [5.0, 0.0, 0.0]])
    f = np.concatenate([a.faces, a.faces + len(a.vertices)])
    s = sample_surface(v, f, n=n, seed=seed)
    return v, f, s, s.points[:, 0] > 2.5


@pytest.mark.parametrize("mode", MODES)
def test_two_components_are_infinitely_far(mode):
    v, f, s, right = _two_spheres()
    sources = np.array([np.flatnonzero(~right)[0], np.flatnonzero(right)[0],
                        np.flatnonzero(~right)[7]])
    d = geodesics_from_sources(v, f, s, sources, mode=mode)
    same = right[sources][:, None] == right[None, :]
    assert np.all(np.isinf(d[~same])) and np.all(d[~same] > 0)
    assert np.all(np.isfinite(d[same]))
    # a unit sphere: nothing is farther than half a great circle (plus the error)
    assert d[same].max() < np.pi * 1.1 and d[same].max() > 2.5


def test_mesh_heat_on_a_non_manifold_mesh_is_finite():
    # three triangles on one edge (a "book"): the robust Laplacian copes
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1.0]])
    f = np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]])
    s = sample_surface(v, f, n=60, seed=0)
    d = geodesics_from_sources(v, f, s, np.array([0, 30]))
    assert np.all(np.isfinite(d)) and np.all(d >= 0)


def test_rejects_bad_input(sphere):
    v, f, s = sphere
    with pytest.raises(ValueError, match="mode"):
        geodesics_from_sources(v, f, s, SOURCES, mode="exact")
    with pytest.raises(ValueError, match="range"):
        geodesics_from_sources(v, f, s, np.array([2048]))
    with pytest.raises(ValueError, match="integer"):
        geodesics_from_sources(v, f, s, np.array([0.5]))
    assert geodesics_from_sources(v, f, s, np.zeros(0, dtype=int)).shape == (0, 2048)


# --- cache -----------------------------------------------------------------------------

@pytest.fixture
def small_sphere():
    mesh = trimesh.creation.icosphere(subdivisions=2)
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    return v, f, sample_surface(v, f, n=300, seed=0)


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = geodesics_module._compute

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(geodesics_module, "_compute", counting)
    return calls


@pytest.mark.parametrize("mode", MODES)
def test_cache_hit_returns_the_same_array_without_solving(small_sphere, counted, tmp_path,
                                                          mode):
    v, f, s = small_sphere
    src = np.array([3, 50, 299])
    first = geodesics_from_sources(v, f, s, src, mode=mode, cache_dir=tmp_path)
    assert counted == [mode]
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy"  # no temporary file left
    second = geodesics_from_sources(v, f, s, src, mode=mode, cache_dir=tmp_path)
    assert counted == [mode]  # served from disk
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float64 and second.shape == (3, 300)


def test_cache_key_covers_the_inputs(small_sphere, counted, tmp_path):
    v, f, s = small_sphere
    src = np.array([3, 50])
    geodesics_from_sources(v, f, s, src, cache_dir=tmp_path)
    geodesics_from_sources(v, f, s, src, mode="knn", cache_dir=tmp_path)
    geodesics_from_sources(v, f, s, src, mode="knn", k=10, cache_dir=tmp_path)
    geodesics_from_sources(v, f, s, src[::-1], cache_dir=tmp_path)
    moved = SurfaceSample(s.points + 1e-9, s.faces, s.bary)
    geodesics_from_sources(v, f, moved, src, cache_dir=tmp_path)
    assert len(counted) == 5 and len(list(tmp_path.iterdir())) == 5
    # dtype does not matter, values do
    key = geodesic_cache_key("mesh_heat", 20, v, f, s.points, s.faces, s.bary, src)
    assert key == geodesic_cache_key("mesh_heat", 20, v, f.astype(np.int32), s.points,
                                     s.faces, s.bary, src.astype(np.int32))
    assert key != geodesic_cache_key("cloud_heat", 20, v, f, s.points, s.faces, s.bary, src)
    assert CACHE_VERSION


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_shape", "empty"])
def test_corrupt_cache_file_is_recomputed(small_sphere, counted, tmp_path, damage):
    v, f, s = small_sphere
    src = np.array([3, 50])
    good = geodesics_from_sources(v, f, s, src, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    if damage == "garbage":
        path.write_bytes(b"not a numpy file at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "wrong_shape":
        np.save(path, np.zeros((5, 5)))
    else:
        path.write_bytes(b"")
    again = geodesics_from_sources(v, f, s, src, cache_dir=tmp_path)
    assert len(counted) == 2  # recomputed
    np.testing.assert_array_equal(again, good)
    np.testing.assert_array_equal(np.load(path), good)  # and rewritten


def test_default_cache_dir_is_under_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CORRSTUDIO_DATA_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "cache" / "geodesics"
