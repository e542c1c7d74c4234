"""The whole pose run on a synthetic image: stages stream in order, the estimate fits."""

from __future__ import annotations

import numpy as np
import pytest

from core.pose.category_template import TemplateError, load_category_template
from core.pose.errors import PoseError
from core.pose.pipeline import PoseEstimate, estimate_pose, iter_estimate_pose
from core.store import ProjectStore
from core.synthetic.renders import Viewpoint, fit_camera, render_view


@pytest.fixture(scope="module")
def template(demo_project):
    with ProjectStore.open(demo_project) as store:
        return load_category_template(store, "mug", model="mug_002")


def _view(template, azimuth=35.0, elevation=20.0, size=96):
    from core.demo import generate_category

    model = next(m for m in generate_category("mug", n_models=3).models
                 if m.model_id == "mug_002")
    cam = fit_camera(Viewpoint(azimuth=azimuth, elevation=elevation), model.vertices,
                     (size, size))
    return render_view(model, cam, np.random.default_rng(0))


class _Cancel:
    cancelled = False


def test_template_is_the_annotated_model(template):
    assert template.model == "mug_002"
    assert len(template.points) == len(template.set_numbers) == len(template.point_faces) > 5
    # semantic points lie on their faces
    tri = template.vertices[template.faces[template.point_faces]]
    lo, hi = tri.min(axis=1) - 1e-6, tri.max(axis=1) + 1e-6
    assert ((template.points >= lo) & (template.points <= hi)).all()


def test_estimate_streams_stages_in_order_and_fits(template):
    view = _view(template)
    stages, estimate = [], None
    for event in iter_estimate_pose(view.mask, template, k=2, steps=25, objective="fast"):
        if not stages or stages[-1] != event.stage:
            stages.append(event.stage)
        if event.stage == "refine":
            assert np.isfinite(event.data.loss)
            assert np.isfinite(event.data.camera.rotation().numpy()).all()
        if event.stage == "done":
            estimate = event.data
    assert stages == ["viewpoint", "refine", "done"]
    assert isinstance(estimate, PoseEstimate)
    assert estimate.iou >= 0.85, estimate.iou
    assert estimate.iou >= estimate.hypotheses[estimate.chosen].iou
    kp = estimate.keypoints
    assert kp.uv.shape == (len(template.points), 2) and np.isfinite(kp.uv).all()
    assert kp.visible.any() and set(estimate.seconds) == {"viewpoint", "refine", "project"}
    doc = estimate.to_dict()
    assert doc["camera"]["type"] == "perspective" and len(doc["keypoints"]) == len(kp.uv)


def test_cancel_returns_the_best_so_far(template):
    view = _view(template, azimuth=120.0)
    cancel = _Cancel()
    events = []
    for event in iter_estimate_pose(view.mask, template, k=3, steps=50, objective="fast",
                                    cancel=cancel):
        events.append(event)
        if event.stage == "refine" and event.data.step == 3:
            cancel.cancelled = True
    done = events[-1]
    assert done.stage == "done" and done.data.cancelled
    assert max(e.data.step for e in events if e.stage == "refine") <= 4
    assert np.isfinite(done.data.camera.rotation().numpy()).all()


def test_bad_input_is_refused(template, demo_project):
    with pytest.raises(PoseError, match="empty"):
        estimate_pose(np.zeros((32, 32), bool), template)
    full = np.ones((32, 32), bool)
    with pytest.raises(PoseError, match="borders"):
        estimate_pose(full, template)
    ok = np.zeros((32, 32), bool)
    ok[8:24, 8:24] = True
    with pytest.raises(PoseError, match="objective"):
        estimate_pose(ok, template, objective="magic")
    with ProjectStore.open(demo_project) as store:
        with pytest.raises(TemplateError, match="no model 'nope'"):
            load_category_template(store, "mug", model="nope")
        with pytest.raises(TemplateError, match="annotator 'ghost'"):
            load_category_template(store, "mug", annotator="ghost")
