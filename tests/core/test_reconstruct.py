"""Single-image reconstruction (core.reconstruct.pipeline, resources, export).

A small mug shape space (4 training models, 30 fit iterations, ~1k-vertex template) is
built once per test run through the project resources (:func:`mug_space`, shared with the
cycle and CLI tests); renders of held-out mugs at 96 px. Measured on the shared 2-core
machine (fast objective, no image networks): camera + shape refinement took the IoU of four
held-out renders from 0.903, 0.849, 0.907, 0.873 to 0.956, 0.857, 0.934, 0.913; a shape of the
space seen with exact 2D points was recovered to a vertex RMS of 0.0020 (the mean shape's:
0.0095, normalized units), IoU 0.996, rotation error 0.9 degrees, keypoints within 0.4 px
(median).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.embedding.trainer import CancelToken
from core.learned2d.prediction import ImagePrediction
from core.pose.refine import RefineStep
from core.pose.viewpoint import ViewpointProgress, ViewpointSearchDone, azimuth_bin, elevation_bin
from core.reconstruct import ReconstructionError
from core.reconstruct.pipeline import iter_reconstruct, reconstruct
from core.reconstruct.records import (
    STAGES,
    ClassifierViewpoints,
    InitialPose,
    Reconstruction,
    TTPUpdate,
)
from core.reconstruct.resources import (
    ShapeSpaceReady,
    find_predictor,
    iter_shape_space,
    load_or_build_shape_space,
    training_models,
)
from core.shape_space import FitConfig

SIZE = (96, 96)
_SPACES: dict[str, ShapeSpaceReady] = {}


def mug_space(demo_project, folder) -> ShapeSpaceReady:
    """The small mug shape space of this test run, built from the training split on first
    use (saved under ``folder``) and reused by every test module."""
    key = str(demo_project)
    if key not in _SPACES:
        from core.store import ProjectStore

        with ProjectStore.open(demo_project) as store:
            _SPACES[key] = load_or_build_shape_space(
                store, demo_project, "mug", folder / "mug_space", iterations=30,
                max_models=4, config=FitConfig(n_samples=3000, eval_samples=3000),
                min_vertices=800, max_vertices=1100)
    return _SPACES[key]


@pytest.fixture(scope="module")
def ready(demo_project, tmp_path_factory):
    return mug_space(demo_project, tmp_path_factory.mktemp("space"))


@pytest.fixture(scope="module")
def space(ready):
    return ready.shape_space


class ExactPredictor:
    """A stand-in image predictor returning given 2D points (geometry tests only)."""

    def __init__(self, space, uv, visible, probs=None, category="mug", labels=None):
        self.category = category
        self.labels = tuple(labels or space.labels)
        n = len(self.labels)
        self.prediction = ImagePrediction(self.labels, np.asarray(uv, float)[:n],
                                          np.asarray(visible, float)[:n], np.ones(n), probs)

    def predict(self, rgb, mask=None):
        return self.prediction


def space_view(space, c, azimuth, elevation, size=SIZE):
    """A shape of the space (N, 3), its true camera, mask and exact keypoints."""
    from core.pose.projection import project_keypoints
    from core.raster.fast_mask import hard_mask
    from core.raster.interface import project
    from core.synthetic.renders import Viewpoint, fit_camera

    vertices = space.shape(c)
    camera = fit_camera(Viewpoint(azimuth, elevation, 0.0, 1.15, 30.0), vertices, size)
    uv, depth = project(camera, vertices)
    mask = hard_mask(uv, space.faces, size, depth=depth, cull_backfaces=True)
    kp = project_keypoints(camera, vertices, space.faces, space.semantic_points(c),
                           space.point_faces)
    return vertices, camera, mask, kp


def one_hot(azimuth, elevation):
    probs = np.zeros((24, 12))
    probs[azimuth_bin(azimuth), elevation_bin(elevation)] = 1.0
    return probs


@pytest.fixture(scope="module")
def held_out_views(ready):
    """One 96 px render of each of four held-out mugs (never seen by the shape space)."""
    from core.demo import generate_category
    from core.synthetic.renders import fit_camera, render_view, sample_viewpoints

    ids = [m for m in ready.held_out[:4]]
    models = {m.model_id: m for m in generate_category("mug", n_models=max(
        int(i.rsplit("_", 1)[1]) for i in ids) + 1).models}
    rng = np.random.default_rng(7)
    views = []
    for name in ids:
        model = models[name]
        vp = sample_viewpoints(1, rng, elevation_range=(0.0, 40.0))[0]
        views.append(render_view(model, fit_camera(vp, model.vertices, SIZE), rng))
    return views


# ----------------------------------------------------------------------------- resources


def test_shape_space_is_built_from_the_training_split_and_then_loaded(ready, demo_project):
    from core.store import ProjectStore

    space = ready.shape_space
    assert ready.built and len(space.model_names) == 4
    assert set(space.model_names) <= set(ready.train_models)
    assert not set(ready.held_out) & set(space.model_names) and len(ready.held_out) >= 4
    with ProjectStore.open(demo_project) as store:
        again = list(iter_shape_space(store, demo_project, "mug", ready.path))
        assert len(again) == 1 and not again[0].built
        np.testing.assert_array_equal(again[0].shape_space.basis, space.basis)
        with pytest.raises(ReconstructionError, match="category 'mug', not 'chair'"):
            load_or_build_shape_space(store, demo_project, "chair", ready.path)
        with pytest.raises(ReconstructionError, match="no category 'boat'"):
            training_models(store, "boat")


def test_too_few_annotated_models_says_how_many_are_needed():
    class Info:
        def __init__(self, name, n):
            self.name, self.n_keypoints = name, n

    class Store:
        def models(self, category):
            return [Info("a", 3), Info("b", 2), Info("c", 5), Info("d", 0)]

    with pytest.raises(ReconstructionError,
                       match=r"has 3 annotated models \(2 for training, 1 held out\); a shape "
                             r"space needs at least 3 .* annotate at least 4"):
        training_models(Store(), "mug")


def test_predictor_lookup_falls_back_and_says_why(tmp_path):
    project = tmp_path / "p.corrstudio"
    none = find_predictor(project, "mug")
    assert none.predictor is None and "no image network checkpoint" in none.note
    nets = tmp_path / "p.corrstudio.d" / "mug" / "image_nets"
    nets.mkdir(parents=True)
    (nets / "best.safetensors").write_bytes(b"\x00 not a checkpoint")
    broken = find_predictor(project, "mug")
    assert broken.predictor is None and broken.path == nets / "best.safetensors"
    assert "silhouette search" in broken.note and str(nets) in broken.note


# ----------------------------------------------------------------------------- accuracy


def test_refining_camera_and_shape_improves_iou_on_held_out_renders(space, held_out_views):
    before, after = [], []
    for view in held_out_views:
        result = reconstruct(view.rgb, view.mask, space, objective="fast", steps=30)
        assert result.viewpoint_source == "search" and result.initial == "search"
        before.append(result.iou["initial"])
        after.append(result.iou["refine"])
    print(f"held-out mugs, IoU before -> after refinement: {np.round(before, 3).tolist()} -> "
          f"{np.round(after, 3).tolist()}")
    gains = np.array(after) - np.array(before)
    assert (gains > 0.005).sum() >= 3 and gains.mean() > 0.02 and min(after) > 0.8


def test_recovers_a_shape_of_the_space_from_its_silhouette_and_exact_points(space):
    from core.cameras import rotation_angle_deg

    c_true = np.random.default_rng(1).normal(size=space.k)
    vertices, camera, mask, kp = space_view(space, c_true, -120.0, 10.0)
    predictor = ExactPredictor(space, kp.uv, kp.visible, one_hot(-120.0, 10.0))
    result = reconstruct(np.zeros((*SIZE, 3), np.uint8), mask, space, predictor,
                         objective="fast", steps=80)
    rms = np.sqrt(((result.vertices - vertices) ** 2).sum(axis=1).mean())
    mean_rms = np.sqrt(((space.mean - vertices) ** 2).sum(axis=1).mean())
    rot = float(rotation_angle_deg(result.camera.rotation().double(),
                                   camera.rotation().double())[0])
    err = np.linalg.norm(result.uv - kp.uv, axis=1)
    print(f"recovery: vertex RMS {rms:.4f} (mean shape {mean_rms:.4f}), c error "
          f"{np.abs(result.coefficients - c_true).max():.2f}, rotation {rot:.2f} deg, "
          f"IoU {result.iou}, keypoints median {np.median(err):.2f} px")
    assert result.viewpoint_source == "classifier" and "ttp" in result.iou
    assert rms < 0.3 * mean_rms
    assert result.iou["refine"] >= 0.98 and rot < 3.0
    assert np.median(err) < 0.5 and err.max() < 2.0
    np.testing.assert_array_equal(result.visible[kp.visible], True)


# ----------------------------------------------------------------------------- streaming


def _check_event(event, space):
    n, s = len(space.mean), len(space.labels)
    assert event.stage in STAGES
    if event.stage != "predict":
        assert event.vertices.shape == (n, 3) and event.camera.batch_size == 1
    if event.keypoints_uv is not None:
        assert event.keypoints_uv.shape == (s, 2)
    if event.iou is not None:
        assert 0.0 <= event.iou <= 1.0


def test_every_stage_streams_in_order_with_a_predictor(space):
    c = np.zeros(space.k)
    _, camera, mask, kp = space_view(space, c, 60.0, 20.0, size=(64, 64))
    predictor = ExactPredictor(space, kp.uv, kp.visible, one_hot(60.0, 20.0))
    events = list(iter_reconstruct(np.zeros((64, 64, 3), np.uint8), mask, space, predictor,
                                   steps=5, screen_steps=3, objective="fast"))
    stages = [e.stage for e in events]
    order = [STAGES.index(s) for s in stages]
    assert order == sorted(order) and set(stages) == set(STAGES)
    for e in events:
        _check_event(e, space)
    assert isinstance(events[0].data, ImagePrediction)
    # a one-hot viewpoint is one hypothesis: bins of probability 0 are not proposed
    assert isinstance(events[1].data, ClassifierViewpoints)
    assert [(h.azimuth_bin, h.elevation_bin) for h in events[1].data.hypotheses] == \
        [(azimuth_bin(60.0), elevation_bin(20.0))]
    ttp = [e.data for e in events if e.stage == "ttp"]
    assert [t.index for t in ttp] == [0, 1, 2, 3] and all(isinstance(t, TTPUpdate) for t in ttp)
    refine = [e for e in events if e.stage == "refine"]
    assert [e.step for e in refine] == list(range(len(refine)))
    initial = [e for e in refine if isinstance(e.data, InitialPose)]
    assert len(initial) == 1
    pose = initial[0].data
    assert len(pose.hypotheses) == 2 and {h.source for h in pose.hypotheses} == {"classifier",
                                                                                  "ttp"}
    screening = refine[:refine.index(initial[0])]
    assert len(screening) == 2 * 4 and all(isinstance(e.data, RefineStep) for e in screening)
    final = refine[refine.index(initial[0]) + 1:]
    assert len(final) == 6 and {e.candidate for e in final} == {pose.chosen}
    assert all(e.data.coefficients.shape == (space.k,) for e in final)
    done = events[-1].data
    assert isinstance(done, Reconstruction) and not done.cancelled
    assert done.initial == pose.source and set(done.iou) >= {"viewpoint", "ttp", "initial",
                                                             "refine"}
    assert set(done.seconds) >= {"predict", "viewpoint", "ttp", "refine", "project", "total"}
    assert done.vertices.shape == space.mean.shape and done.uv.shape == (len(space.labels), 2)
    doc = done.to_dict()
    assert doc["camera"]["type"] == "perspective" and math.isfinite(doc["iou"]["refine"])


def test_without_a_predictor_the_search_streams_and_a_cancel_ends_with_done(space):
    _, _, mask, _ = space_view(space, np.zeros(space.k), -30.0, 25.0, size=(64, 64))
    token = CancelToken()
    events = []
    for event in iter_reconstruct(None, mask, space, steps=50, objective="fast",
                                  cancel=token):
        events.append(event)
        if event.stage == "refine" and isinstance(event.data, RefineStep) \
                and event.data.step == 2 and event.candidate is not None:
            token.cancel()
    stages = [e.stage for e in events]
    assert "predict" not in stages and "ttp" not in stages and stages[-1] == "done"
    search = [e.data for e in events if e.stage == "viewpoint"]
    assert all(isinstance(d, ViewpointProgress) for d in search[:-1])
    assert isinstance(search[-1], ViewpointSearchDone) and search[-1].done == 288
    result = events[-1].data
    assert result.cancelled and result.viewpoint_source == "search"
    assert len([e for e in events if e.stage == "refine"]) < 10
    assert torch.isfinite(result.camera.azimuth).all()


# ----------------------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors(space):
    rgb = np.zeros((32, 40, 3), np.uint8)
    ok = np.zeros((32, 40), bool)
    ok[8:20, 10:30] = True
    cases = [
        (rgb, np.zeros((32, 40), bool), "empty"),
        (rgb, np.ones((32, 40), bool), "touches all four image borders"),
        (rgb, np.zeros((30, 40), bool), r"30x40 .* image is 32x40"),
        (np.full((32, 40, 3), np.nan), ok, "image holds NaN"),
        (rgb, np.where(ok, np.nan, 0.0), "mask holds NaN"),
        (np.zeros((32, 40)), np.zeros((32, 40, 3)), "2D"),
    ]
    for image, mask, message in cases:
        with pytest.raises(ReconstructionError, match=message):
            iter_reconstruct(image, mask, space)
    assert issubclass(ReconstructionError, ValueError)
    other = ExactPredictor(space, np.zeros((len(space.labels), 2)), np.ones(len(space.labels)),
                           category="chair")
    with pytest.raises(ReconstructionError, match="category 'chair'.*'mug'"):
        iter_reconstruct(rgb, ok, space, other)
    foreign = ExactPredictor(space, np.zeros((3, 2)), np.ones(3), labels=("x", "y", "z"))
    with pytest.raises(ReconstructionError, match="trained for other points"):
        reconstruct(rgb, ok, space, foreign)
    with pytest.raises(ReconstructionError, match="unknown objective"):
        iter_reconstruct(rgb, ok, space, objective="blurry")
    with pytest.raises(ReconstructionError, match="steps"):
        iter_reconstruct(rgb, ok, space, steps=-1)


# ----------------------------------------------------------------------------- refinement


def test_refine_pose_moves_shape_coefficients_toward_the_truth(space):
    from core.pose.errors import PoseError
    from core.pose.refine import KeypointTerm, ShapeModel, refine_pose, run_refinement

    c_true = np.array([1.5, -1.0, 0.8, 0.5])[:space.k]
    _, camera, mask, kp = space_view(space, c_true, 20.0, 25.0, size=(64, 64))
    shape = ShapeModel(space.basis, np.zeros(space.k), prior=1e-5)
    fixed = run_refinement(mask, space.mean, space.faces, camera, steps=40)
    moving = run_refinement(mask, space.mean, space.faces, camera, steps=40, shape=shape)
    assert fixed.best.coefficients is None and moving.best.coefficients.shape == (space.k,)
    assert moving.best.vertices.shape == space.mean.shape
    err0 = np.linalg.norm(c_true)
    err = np.linalg.norm(moving.best.coefficients - c_true)
    print(f"shape refinement from c = 0: IoU {moving.history[0][2]:.3f} -> "
          f"{moving.best.iou:.3f} (camera only {fixed.best.iou:.3f}); |c - c_true| "
          f"{err0:.2f} -> {err:.2f}")
    assert moving.best.iou > max(fixed.best.iou, moving.history[0][2]) and err < 0.7 * err0
    # a bound on |c| holds at every step, and the keypoint term is checked
    bounded = ShapeModel(space.basis, np.zeros(space.k), prior=0.0, max_norm=0.5,
                         keypoints=KeypointTerm(space.point_faces, space.point_bary, kp.uv,
                                                np.ones(len(kp.uv))))
    steps = list(refine_pose(mask, space.mean, space.faces, camera, steps=10, shape=bounded))
    assert all(np.isfinite(s.loss) for s in steps)
    assert max(np.linalg.norm(s.coefficients) for s in steps) <= 0.5 + 1e-9
    with pytest.raises(PoseError, match="keypoint term"):
        run_refinement(mask, space.mean, space.faces, camera, steps=1, shape=ShapeModel(
            space.basis, keypoints=KeypointTerm(space.point_faces, space.point_bary,
                                                kp.uv[:2], np.ones(2))))
    with pytest.raises(PoseError, match=r"\(K, V, 3\)"):
        run_refinement(mask, space.mean, space.faces, camera, steps=1,
                       shape=ShapeModel(space.basis[:, :10]))


def test_soft_objective_refines_camera_and_shape_on_the_cpu(space):
    _, _, mask, _ = space_view(space, np.zeros(space.k), 45.0, 20.0, size=(32, 32))
    events = list(iter_reconstruct(None, mask, space, objective="soft", steps=5, screen=1))
    result = events[-1].data
    assert result.objective == "soft" and result.iou["refine"] >= result.iou["initial"]
    assert sum(isinstance(e.data, RefineStep) for e in events) == 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_soft_objective_runs_on_cuda(space):
    c_true = np.array([1.0, -0.5, 0.5, 0.2])[:space.k]
    _, _, mask, kp = space_view(space, c_true, 45.0, 20.0, size=(128, 128))
    predictor = ExactPredictor(space, kp.uv, kp.visible, one_hot(45.0, 20.0))
    result = reconstruct(np.zeros((128, 128, 3), np.uint8), mask, space, predictor,
                         objective="auto", steps=30, device="cuda")
    print(f"soft on CUDA: IoU {result.iou}, seconds {result.seconds}")
    assert result.objective == "soft" and result.camera.azimuth.device.type == "cpu"
    assert result.iou["refine"] >= 0.95


def test_weak_perspective_becomes_an_orbit_camera_about_the_object():
    from core.cameras import WeakPerspectiveCamera, axis_angle_to_matrix
    from core.raster.interface import project
    from core.reconstruct.cameras import orbit_camera_from_weak

    rot = axis_angle_to_matrix(torch.tensor([[0.3, -1.1, 0.4]], dtype=torch.float64))
    weak = WeakPerspectiveCamera(torch.tensor([60.0], dtype=torch.float64), rot,
                                 torch.tensor([[50.0, 40.0]], dtype=torch.float64), (96, 128))
    ref = np.array([0.1, -0.2, 0.05])
    cam = orbit_camera_from_weak(weak, ref, fov=30.0)
    u_weak, _ = weak.project(torch.as_tensor(ref)[None])
    u_cam, depth = project(cam, ref[None])
    np.testing.assert_allclose(u_cam[0], u_weak[0, 0].numpy(), atol=1e-9)
    np.testing.assert_allclose(cam.target[0].numpy(), ref)
    torch.testing.assert_close(cam.rotation(), rot)
    assert depth[0] == pytest.approx((96 / 2) / math.tan(math.radians(15)) / 60.0)
    # nearby points agree to first order (weak perspective = perspective at the reference)
    pts = ref + 0.01 * np.random.default_rng(0).normal(size=(5, 3))
    u_w, _ = weak.project(torch.as_tensor(pts))
    np.testing.assert_allclose(project(cam, pts)[0], u_w[0].numpy(), atol=0.05)
    far = orbit_camera_from_weak(weak, ref, fov=30.0, min_distance=50.0)
    assert float(far.distance[0]) == 50.0


def test_the_search_scores_a_decimated_mean_shape_of_a_large_template(space):
    from core.reconstruct.stages import search_mesh

    verts, faces = search_mesh(space.mean, space.faces, 1000)
    assert 500 <= len(faces) <= 1000 and faces.max() < len(verts)
    assert np.abs(verts.max(0) - space.mean.max(0)).max() < 0.05       # the same extent
    same = search_mesh(space.mean, space.faces, 0)
    assert same[0] is space.mean and same[1] is space.faces
