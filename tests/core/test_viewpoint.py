"""Viewpoint search: bins, box fit, ranking on synthetic renders, streaming, bad input.

Scoring of the ranking test (silhouettes cannot tell some views apart): a render counts as
found when one of the top-5 hypotheses lies within one bin (azimuth circularly, elevation)
of the true view *or of a view the model's symmetry makes indistinguishable*. Symmetries are
detected on each mesh (a transform maps every vertex onto the mesh within 0.01): the mirror
x -> -x makes (az, el) look like (180 - az, -el), the mirror z -> -z like (-az, -el) (both
exactly so for orthographic projection: the mirrored camera sees the mirrored object from
behind), the half turn about +Y like (az + 180, el), and a model symmetric under a generic
turn about +Y (a mug without a handle) any azimuth. The strict rate (the true bin only) is
printed beside it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from core.pose.errors import PoseError
from core.pose.viewpoint import (
    ViewpointProgress,
    ViewpointSearchDone,
    azimuth_bin,
    azimuth_bin_centres,
    elevation_bin,
    elevation_bin_centres,
    fit_cameras_to_box,
    iter_viewpoint_search,
    mask_box,
    search_viewpoints,
)
from core.raster.fast_mask import hard_mask, mask_iou
from tests.core.pose_helpers import SIZE, demo_models, render


@pytest.fixture(scope="module")
def models():
    return demo_models()


def _symmetric(vertices, transform) -> bool:
    return float(cKDTree(vertices).query(vertices @ transform.T)[0].max()) < 0.01


def equivalent_views(vertices, azimuth, elevation):
    """Views whose silhouettes the model's symmetries make the same (module docs)."""
    views = [(azimuth, elevation)]
    if _symmetric(vertices, np.diag([-1.0, 1.0, 1.0])):
        views.append((180.0 - azimuth, -elevation))
    if _symmetric(vertices, np.diag([1.0, 1.0, -1.0])):
        views.append((-azimuth, -elevation))
    if _symmetric(vertices, np.diag([-1.0, 1.0, -1.0])):
        views.append((azimuth + 180.0, elevation))
    c, s = np.cos(np.radians(37.0)), np.sin(np.radians(37.0))
    if _symmetric(vertices, np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])):
        views += [(a, e) for a in azimuth_bin_centres() for _, e in list(views)]
    return views


def _near(hyp, azimuth, elevation) -> bool:
    da = abs(hyp.azimuth_bin - azimuth_bin(azimuth))
    return min(da, 24 - da) <= 1 and abs(hyp.elevation_bin - elevation_bin(elevation)) <= 1


def test_bin_centres_and_indices():
    assert azimuth_bin_centres().tolist() == [15.0 * k for k in range(24)]
    assert elevation_bin_centres().tolist() == [-82.5 + 15.0 * j for j in range(12)]
    assert elevation_bin_centres(4, (0.0, 60.0)).tolist() == [7.5, 22.5, 37.5, 52.5]
    assert azimuth_bin(7.4) == 0 and azimuth_bin(7.6) == 1 and azimuth_bin(-7.6) == 23
    assert azimuth_bin(352.6) == 0 and azimuth_bin(-180.0) == 12
    assert elevation_bin(-90.0) == 0 and elevation_bin(90.0) == 11
    assert elevation_bin(-0.1) == 5 and elevation_bin(0.0) == 6


def test_box_fit_reproduces_the_box(models):
    model = models[8]  # a chair
    verts = torch.as_tensor(model.vertices, dtype=torch.float64)
    box = (10.0, 14.0, 50.0, 58.0)
    cams = fit_cameras_to_box(verts, torch.tensor([30.0, 200.0]), torch.tensor([10.0, 40.0]),
                              box, SIZE, fov=30.0)
    uv, depth = cams.project(verts)
    assert bool((depth > 0).all())
    lo, hi = uv.min(dim=1).values, uv.max(dim=1).values
    centre = (lo + hi) / 2
    area = (hi - lo).prod(dim=1)
    assert torch.allclose(centre, torch.tensor([30.0, 36.0], dtype=torch.float64), atol=0.3)
    assert torch.allclose(area, torch.full((2,), 40.0 * 44.0, dtype=torch.float64), rtol=0.02)


def test_search_ranks_the_true_view_among_the_top_5(models):
    rng = np.random.default_rng(7)
    found = strict = 0
    for model in models:
        az, el = rng.uniform(-180.0, 180.0), rng.uniform(-10.0, 45.0)
        mask, _ = render(model.vertices, model.faces, az, el)
        hyps = search_viewpoints(mask, model.vertices, model.faces, k=5)
        assert [h.rank for h in hyps] == [1, 2, 3, 4, 5]
        assert all(a.iou >= b.iou for a, b in zip(hyps, hyps[1:], strict=False))
        best = hyps[0]
        assert best.camera.image_size == SIZE and best.camera.batch_size == 1
        assert all(bool(torch.isfinite(t).all()) for t in (best.camera.distance,
                                                           best.camera.principal))
        uv, depth = best.camera.project(torch.as_tensor(model.vertices, dtype=torch.float32))
        again = mask_iou(hard_mask(uv[0], model.faces, SIZE, depth=depth[0]), mask)
        assert again == pytest.approx(best.iou, abs=0.02)
        views = equivalent_views(model.vertices, az, el)
        strict += any(_near(h, az, el) for h in hyps)
        found += any(_near(h, a, e) for h in hyps for a, e in views)
    print(f"viewpoint search top-5 within one bin: {found}/{len(models)} with symmetric "
          f"twins, {strict}/{len(models)} strict")
    assert found >= 0.75 * len(models)


def test_streaming_progress_and_cancel(models):
    model = models[4]  # a mug
    mask, _ = render(model.vertices, model.faces, 40.0, 20.0)
    events = list(iter_viewpoint_search(mask, model.vertices, model.faces, k=3))
    progress = [e for e in events if isinstance(e, ViewpointProgress)]
    assert [p.done for p in progress] == [24 * (j + 1) for j in range(12)]
    assert all(p.total == 288 and 1 <= len(p.best) <= 3 for p in progress)
    done = events[-1]
    assert isinstance(done, ViewpointSearchDone) and not done.cancelled
    assert len(done.hypotheses) == 3 and done.done == 288

    class Cancel:
        cancelled = False

    token = Cancel()
    events = []
    for event in iter_viewpoint_search(mask, model.vertices, model.faces, k=3, cancel=token):
        events.append(event)
        token.cancelled = True
    assert isinstance(events[-1], ViewpointSearchDone) and events[-1].cancelled
    assert events[-1].done == 24 and len(events) == 2


def test_large_masks_are_searched_downscaled_and_scored_at_full_size(models):
    model = models[0]  # an airplane
    mask, _ = render(model.vertices, model.faces, 60.0, 25.0, size=(192, 256))
    hyps = search_viewpoints(mask, model.vertices, model.faces, k=2, max_side=64)
    assert hyps[0].camera.image_size == (192, 256)
    uv, depth = hyps[0].camera.project(torch.as_tensor(model.vertices, dtype=torch.float32))
    full = mask_iou(hard_mask(uv[0], model.faces, (192, 256), depth=depth[0]), mask)
    assert full == pytest.approx(hyps[0].iou, abs=1e-6) and full > 0.5
    box = mask_box(mask)
    assert 0 < box[0] < box[2] <= 256 and 0 < box[1] < box[3] <= 192


def test_bad_input_names_the_problem(models):
    model = models[4]
    v, f = model.vertices, model.faces
    with pytest.raises(PoseError, match="empty"):
        search_viewpoints(np.zeros(SIZE, dtype=bool), v, f)
    with pytest.raises(PoseError, match="all four"):
        search_viewpoints(np.ones(SIZE, dtype=bool), v, f)
    mask, _ = render(v, f, 0.0, 10.0)
    with pytest.raises(PoseError, match="2D"):
        search_viewpoints(mask[None], v, f)
    with pytest.raises(PoseError, match="NaN"):
        search_viewpoints(mask, np.full_like(v, np.nan), f)
    with pytest.raises(PoseError, match="face indices"):
        search_viewpoints(mask, v, f + len(v))
    with pytest.raises(PoseError, match="rasterizer"):
        search_viewpoints(mask, v, f, rasterizer="magic")
