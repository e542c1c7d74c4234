"""Category shape space (core.shape_space): template, fit, PCA, files, and the TTP link.

Bounds stated here (normalized units, bounding-box diagonal 1):
- a template deformed by a known smooth field (mean displacement 0.035) is recovered with an
  RMS point-to-surface distance below 0.5 % of the diagonal (squared chamfer < 1e-4), a mean
  vertex error below half the displacement and semantic points within 0.005;
- PCA of shapes from a known rank-3 basis recovers its subspace (principal angles < 1e-6 rad)
  and reconstructs the training shapes to 1e-9; with noise of RMS 1e-3 per coordinate, K = 3
  reconstructs them to within 1.5x the noise.
CPU only, small meshes (about 1k template vertices) and few iterations: runs in well under a
minute.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from core.embedding.trainer import CancelToken
from core.model_scene import load_model_scene
from core.shape_space import (
    MIN_MODELS,
    BuildStarted,
    FitConfig,
    FitStep,
    FittedShape,
    ModelFitStep,
    ModelFitted,
    ShapeSpaceDone,
    ShapeSpaceError,
    build_shape_space,
    fit_template,
    load_shape_space,
    pca_shapes,
    reconstruct,
    remesh,
    run_build,
    save_shape_space,
)
from core.shape_space.metrics import point_surface_distance, surface_chamfer
from core.shape_space.template import semantic_targets, template_from_mesh
from core.store import ProjectStore

CATEGORY = "mug"
FAST = dict(n_samples=3000, eval_samples=3000)


@pytest.fixture(scope="module")
def store(demo_project):
    with ProjectStore.open(demo_project) as s:
        yield s


@pytest.fixture(scope="module")
def mug_template(store):
    """A ~1k-vertex template from a demo mug with its annotator's semantic points."""
    sets = store.category_sets(CATEGORY)
    targets = semantic_targets(sets)
    row = int(np.argmax(targets.placed.sum(axis=1)))
    name = targets.model_names[row]
    scene = load_model_scene(store, store.model(CATEGORY, name))
    cols = np.flatnonzero(targets.placed[row])
    return template_from_mesh(scene.vertices, scene.faces, targets.xyz[row, cols],
                              [targets.labels[c] for c in cols], category=CATEGORY, model=name,
                              min_vertices=800, max_vertices=1100)


@pytest.fixture(scope="module")
def built(store):
    """A shape space of 4 demo mugs (K capped at 3), with its events."""
    names = [m.name for m in store.models(CATEGORY) if m.n_keypoints > 0][:4]
    events = list(build_shape_space(store, CATEGORY, k=16, iterations=30,
                                    config=FitConfig(**FAST), models=names,
                                    min_vertices=800, max_vertices=1100))
    return names, events


def _smooth_field(x: np.ndarray) -> np.ndarray:
    """A low-frequency displacement field (N, 3) of the points ``x`` (N, 3)."""
    return np.stack([0.04 * np.sin(2.5 * x[:, 1] + 0.3), 0.03 * np.cos(2.0 * x[:, 0]),
                     0.03 * np.sin(2.0 * x[:, 0] + 1.5 * x[:, 1])], axis=1)


# ----------------------------------------------------------------------------- template


def test_template_is_remeshed_into_range_and_watertight(mug_template):
    assert 800 <= len(mug_template.vertices) <= 1100
    assert mug_template.watertight
    assert len(mug_template.labels) == len(mug_template.point_faces) > 0
    np.testing.assert_allclose(mug_template.point_bary.sum(axis=1), 1.0)


def test_semantic_targets_by_annotator_or_consensus(store):
    sets = store.category_sets(CATEGORY)
    one = semantic_targets(sets, annotator=sets.set_annotators[0])
    assert all(label.startswith(sets.set_annotators[0] + ":") for label in one.labels)
    groups = semantic_targets(sets, mode="consensus")
    assert groups.xyz.shape == (len(sets.model_names), len(groups.labels), 3)
    assert groups.placed.sum() > one.placed.sum()                   # merged over annotators
    with pytest.raises(ShapeSpaceError, match="mode"):
        semantic_targets(sets, mode="vote")


def test_remesh_refines_small_and_clusters_open_meshes():
    import trimesh

    ball = trimesh.creation.icosphere(subdivisions=2)              # 162 vertices, closed
    out = remesh(ball.vertices, ball.faces, 1000, 3000)
    assert 1000 <= len(out.vertices) <= 3000 and out.watertight
    assert "refine" in out.method
    g = np.linspace(0, 1, 70)                                      # an open 70 x 70 sheet
    xx, yy = np.meshgrid(g, g)
    v = np.stack([xx.ravel(), yy.ravel(), np.zeros(xx.size)], 1)
    idx = np.arange(70 * 70).reshape(70, 70)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), \
        idx[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    sheet = remesh(v, faces, 1000, 3000)
    assert len(sheet.vertices) <= 3000 and "clustering" in sheet.method


# ----------------------------------------------------------------------------- metrics


def test_point_surface_distance_is_exact(store):
    from core.geometry.surface import closest_points

    scene = load_model_scene(store, store.model("chair", store.models("chair")[0].name))
    rng = np.random.default_rng(1)
    q = rng.normal(scale=0.3, size=(400, 3))
    d = point_surface_distance(q, scene.vertices, scene.faces)
    ref = closest_points(scene.vertices, scene.faces, q).distance
    np.testing.assert_allclose(d, ref, atol=1e-12)
    same = surface_chamfer(scene.vertices, scene.faces, scene.vertices, scene.faces, n=500)
    assert same.chamfer < 1e-20


def test_cached_losses_match_pytorch3d():
    import trimesh
    from pytorch3d.loss import chamfer_distance, mesh_normal_consistency
    from pytorch3d.structures import Meshes

    from core.shape_space.fit import _chamfer, _NormalConsistency

    ball = trimesh.creation.icosphere(subdivisions=2)
    V = torch.tensor(ball.vertices, dtype=torch.float32)
    F = torch.tensor(ball.faces)
    W = V + 0.05 * torch.randn(V.shape, generator=torch.Generator().manual_seed(0))
    ref = mesh_normal_consistency(Meshes([W], [F]))
    assert float(_NormalConsistency(Meshes([V], [F]))(W)) == pytest.approx(float(ref), rel=1e-5)
    a = torch.randn(500, 3, requires_grad=True)
    b = torch.randn(400, 3)
    c1 = chamfer_distance(a[None], b[None])[0]
    c2 = _chamfer(a, b)
    g1, = torch.autograd.grad(c1, a)
    g2, = torch.autograd.grad(c2, a)
    assert float(c2.detach()) == pytest.approx(float(c1.detach()), rel=1e-6)
    torch.testing.assert_close(g1, g2)


# ----------------------------------------------------------------------------- fit


def test_fit_recovers_a_known_smooth_deformation(mug_template):
    T0, F = mug_template.vertices, mug_template.faces
    truth = T0 + _smooth_field(T0)
    y = mug_template.points(truth)
    cfg = FitConfig(iterations=150, device="cpu", **FAST)
    events = list(fit_template(T0, F, truth, F, mug_template.point_faces,
                               mug_template.point_bary, y, cfg))
    steps = [e for e in events if isinstance(e, FitStep)]
    fit = events[-1]
    assert isinstance(fit, FittedShape) and not fit.cancelled
    assert len(steps) == fit.iterations == 150
    assert steps[-1].loss < 0.5 * steps[0].loss
    start = np.linalg.norm(truth - T0, axis=1).mean()                # 0.035
    error = np.linalg.norm(fit.vertices - truth, axis=1).mean()
    assert fit.chamfer < 1e-4
    assert fit.rms < 0.005                                          # 0.5 % of the diagonal
    assert error < 0.5 * start
    assert fit.keypoint_error < 0.005 and fit.n_keypoints == len(y)


def test_fit_cancels_and_skips_missing_points(mug_template):
    T0, F = mug_template.vertices, mug_template.faces
    y = mug_template.points()
    y[0] = np.nan                                                    # not placed: skipped
    token = CancelToken()
    fit = None
    for event in fit_template(T0, F, T0, F, mug_template.point_faces,
                              mug_template.point_bary, y,
                              FitConfig(iterations=50, n_samples=500, eval_samples=500),
                              cancel=token):
        if isinstance(event, FitStep) and event.iteration == 2:
            token.cancel()
        fit = event
    assert isinstance(fit, FittedShape) and fit.cancelled and fit.iterations == 3
    assert fit.n_keypoints == len(y) - 1 and math.isfinite(fit.keypoint_error)


def test_fit_refuses_mismatched_arrays(mug_template):
    T0, F = mug_template.vertices, mug_template.faces
    with pytest.raises(ShapeSpaceError, match="faces"):
        fit_template(T0, F + len(T0), T0, F)
    with pytest.raises(ShapeSpaceError, match="do not match"):
        fit_template(T0, F, T0, F, mug_template.point_faces, mug_template.point_bary,
                     np.zeros((1, 3)))


# ----------------------------------------------------------------------------- PCA


def _rank3_shapes(m: int, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 150
    mean = rng.normal(size=(n, 3))
    Q, _ = np.linalg.qr(rng.normal(size=(3 * n, 3)))                 # (3N, 3) orthonormal
    c = rng.normal(size=(m, 3)) * np.array([0.3, 0.2, 0.1])
    shapes = mean + (c @ Q.T).reshape(m, n, 3)
    return shapes + noise * rng.normal(size=shapes.shape), Q


def test_pca_recovers_a_rank3_subspace_and_reconstructs():
    shapes, Q = _rank3_shapes(8)
    pca = pca_shapes(shapes, k=16)
    assert pca.basis.shape == (3, 150, 3)                           # numerical rank: 3
    W, _ = np.linalg.qr(pca.basis.reshape(3, -1).T)
    cosines = np.linalg.svd(Q.T @ W, compute_uv=False)
    assert np.arccos(np.clip(cosines, -1, 1)).max() < 1e-6          # principal angles
    recon = reconstruct(pca.mean, pca.basis, pca.coefficients)
    assert np.abs(recon - shapes).max() < 1e-9
    np.testing.assert_allclose(pca.coefficients.std(axis=0, ddof=1), 1.0)
    np.testing.assert_allclose(pca.explained_ratio.sum(), 1.0)


def test_pca_caps_k_and_truncation_error_is_the_noise():
    shapes, _ = _rank3_shapes(5, noise=1e-3, seed=1)
    assert pca_shapes(shapes, k=16).basis.shape[0] == 4             # K <= M - 1
    full = pca_shapes(shapes, k=16)
    assert np.abs(reconstruct(full.mean, full.basis, full.coefficients) - shapes).max() < 1e-9
    shapes, _ = _rank3_shapes(12, noise=1e-3, seed=2)
    three = pca_shapes(shapes, k=3)
    rms = np.sqrt(((reconstruct(three.mean, three.basis, three.coefficients) - shapes) ** 2)
                  .mean())
    assert rms < 1.5e-3
    with pytest.raises(ShapeSpaceError, match="at least 2"):
        pca_shapes(shapes[:1])


# ----------------------------------------------------------------------------- build


def test_build_on_the_demo_category(built):
    names, events = built
    assert isinstance(events[0], BuildStarted) and events[0].models == tuple(names)
    steps = [e for e in events if isinstance(e, ModelFitStep)]
    fitted = [e for e in events if isinstance(e, ModelFitted)]
    assert len(steps) == 4 * 30 and [e.model for e in fitted] == names
    done = events[-1]
    assert isinstance(done, ShapeSpaceDone) and not done.cancelled
    space = done.shape_space
    assert space.k == 3                                              # M - 1 of k = 16
    assert space.mean.shape == (len(space.mean), 3) and space.basis.shape[1:] == space.mean.shape
    for fit in space.fits:
        assert math.isfinite(fit.chamfer) and math.isfinite(fit.keypoint_error)
        assert fit.rms < 0.05 and fit.keypoint_error < 0.05
        assert fit.reconstruction_rms < 1e-6                        # K = M - 1: exact
    points = space.semantic_points()
    assert points.shape == (len(space.labels), 3) and np.isfinite(points).all()
    T, B = space.semantic_template()
    c = np.array([0.5, -1.0, 0.3])
    np.testing.assert_allclose(space.semantic_points(c), T + np.tensordot(c, B, 1), atol=1e-12)
    np.testing.assert_allclose(space.reconstruct(names[1]), fitted[1].vertices, atol=1e-6)


def test_build_needs_three_annotated_models(store):
    names = [m.name for m in store.models(CATEGORY)][:2]
    with pytest.raises(ShapeSpaceError, match=f"has 2 annotated models.*at least {MIN_MODELS}"):
        build_shape_space(store, CATEGORY, models=names)
    with pytest.raises(ShapeSpaceError, match="no model"):
        build_shape_space(store, CATEGORY, models=["nope"])
    with pytest.raises(ShapeSpaceError, match="no category"):
        build_shape_space(store, "spaceship")


def test_build_can_be_cancelled(store):
    token = CancelToken()
    names = [m.name for m in store.models(CATEGORY)][:3]
    last = None
    for event in build_shape_space(store, CATEGORY, iterations=20, models=names,
                                   config=FitConfig(n_samples=500, eval_samples=500),
                                   min_vertices=800, max_vertices=1100, cancel=token):
        if isinstance(event, ModelFitStep) and event.step.iteration == 3:
            token.cancel()
        last = event
    assert isinstance(last, ShapeSpaceDone) and last.cancelled and last.shape_space is None
    with pytest.raises(ShapeSpaceError, match="cancelled"):
        run_build(iter([last]))


# ----------------------------------------------------------------------------- files


def test_save_load_round_trip_and_bad_files(built, tmp_path):
    space = built[1][-1].shape_space
    path = save_shape_space(space, tmp_path / "mug")
    back = load_shape_space(path, expect_category=CATEGORY)
    for name in ("mean", "basis", "coefficients", "point_bary", "explained_ratio"):
        np.testing.assert_array_equal(getattr(back, name), getattr(space, name))
    np.testing.assert_array_equal(back.faces, space.faces)
    assert back.labels == space.labels and back.fits == space.fits
    assert back.model_names == space.model_names

    with pytest.raises(ShapeSpaceError, match="category 'mug', not 'chair'"):
        load_shape_space(path, expect_category="chair")
    sidecar = tmp_path / "mug.json"
    doc = json.loads(sidecar.read_text())
    doc["counts"]["k"] = 5                                           # mismatched sidecar
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    (tmp_path / "bad.safetensors").write_bytes(path.read_bytes())
    with pytest.raises(ShapeSpaceError, match=r"bad\.safetensors: basis has shape"):
        load_shape_space(tmp_path / "bad")
    (tmp_path / "junk.json").write_text(sidecar.read_text())
    (tmp_path / "junk.safetensors").write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(ShapeSpaceError, match=r"junk\.safetensors: corrupt"):
        load_shape_space(tmp_path / "junk")
    (tmp_path / "other.json").write_text(json.dumps({"format": "corrstudio-embedding-"
                                                               "checkpoint/1"}))
    with pytest.raises(ShapeSpaceError, match=r"other\.json: not a CorrStudio shape space"):
        load_shape_space(tmp_path / "other")
    with pytest.raises(ShapeSpaceError, match="not found"):
        load_shape_space(tmp_path / "missing")


# ----------------------------------------------------------------------------- TTP link


def test_mean_and_basis_plug_into_the_ttp_solver(built):
    from core.pose.ttp import solve_ttp

    space = built[1][-1].shape_space
    T = torch.as_tensor(space.mean)
    B = torch.as_tensor(space.basis)
    c_true = torch.tensor([1.2, -0.7, 0.5], dtype=torch.float64)
    angle = torch.tensor(0.6, dtype=torch.float64)
    axis = torch.tensor([0.3, 1.0, 0.2], dtype=torch.float64)
    axis = axis / axis.norm()
    K = torch.tensor([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]],
                     dtype=torch.float64)
    R = torch.eye(3, dtype=torch.float64) + angle.sin() * K + (1 - angle.cos()) * K @ K
    X = T + torch.einsum("k,knd->nd", c_true, B)
    u = 300.0 * (X @ R[:2].T) + torch.tensor([320.0, 240.0], dtype=torch.float64)
    result = solve_ttp(u, torch.ones(len(T), dtype=torch.float64), T, B, n_alternations=16)
    torch.testing.assert_close(result.c, c_true, atol=1e-5, rtol=0)   # measured: 2e-7
    assert float((result.R - R).abs().max()) < 1e-5
    assert float(result.rms) < 1e-4                                  # pixels
