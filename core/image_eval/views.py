"""Single evaluation views, again: a subset of a view set, and one held-out view of an
evaluation re-rendered from its model and angles.

An evaluation renders each held-out model's views with its own generator
(:func:`core.learned2d.data.model_rng` of the seed, :data:`~core.image_eval.data.EVAL_STREAM`
and the model's name), drawing all of the model's viewpoints first. So one model's views are
the same whatever other models were rendered with it, and a view is found again from the
model, its azimuth and elevation (what a report keeps), the render side and the seed: the
number of views per model is found by matching the angles when not known.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.image_eval.data import EVAL_STREAM, EvaluationDataError
from core.learned2d.data import RenderConfig, ViewSet, model_rng

ANGLE_TOLERANCE = 1e-4  # degrees: a report's angles are the rendered ones (JSON keeps floats)
EMPTY_RETRY_DEG = 7.0  # render_views turns a view with an empty mask by this (up to 3 times)
MAX_VIEWS_PER_MODEL = 16  # tried when the report does not say how many views a model had


def subset_views(views: ViewSet, indices: Sequence[int]) -> ViewSet:
    """The views ``indices`` of ``views`` (in that order; masks and cameras kept, the model
    names unchanged)."""
    rows = np.asarray(list(indices), dtype=np.int64)
    arrays = {k: getattr(views, k)[rows] for k in (
        "rgb", "box", "uv", "visible", "placed", "known", "azimuth", "elevation",
        "azimuth_bin", "elevation_bin", "model")}
    masks = views.masks[rows] if views.masks is not None else None
    cameras = tuple(views.cameras[int(i)] for i in rows) if views.cameras else ()
    return ViewSet(**arrays, model_names=views.model_names, masks=masks, cameras=cameras)


def spread_views(views: ViewSet, limit: int | None) -> list[int]:
    """At most ``limit`` view indices (all when None) taking each model's first view, then
    each model's second, and so on: a small evaluation covers as many models as it can."""
    order = []
    seen: dict[int, int] = {}
    for i, m in enumerate(views.model.tolist()):
        rank = seen.get(m, 0)
        seen[m] = rank + 1
        order.append((rank, i))
    chosen = [i for _, i in sorted(order)]
    return sorted(chosen if limit is None else chosen[:max(0, int(limit))])


def _angles_match(a: float, b: float) -> bool:
    return abs((a - b + 180.0) % 360.0 - 180.0) < ANGLE_TOLERANCE


def _candidate_counts(views_per_model: int | None, max_views: int) -> list[int]:
    first = [int(views_per_model)] if views_per_model else []
    return first + [n for n in range(1, max_views + 1) if n not in first]


def find_view_count(model: str, azimuth: float, elevation: float, seed: int = 0,
                    views_per_model: int | None = None,
                    max_views: int = MAX_VIEWS_PER_MODEL,
                    config: RenderConfig | None = None) -> int | None:
    """How many views per model the evaluation that rendered ``model`` at these angles drew
    (``views_per_model`` first, then 1..``max_views``); None when none matches. Cheap: only
    the viewpoints are drawn, nothing is rendered."""
    from core.synthetic.renders import sample_viewpoints

    config = config or RenderConfig()
    for n in _candidate_counts(views_per_model, max_views):
        rng = model_rng(seed, EVAL_STREAM, model)
        for vp in sample_viewpoints(n, rng, config.azimuth_range, config.elevation_range,
                                    config.distance_range, config.roll_jitter,
                                    config.fov_range):
            if abs(vp.elevation - elevation) < ANGLE_TOLERANCE and any(
                    _angles_match(vp.azimuth + k * EMPTY_RETRY_DEG, azimuth) for k in range(4)):
                return n
    return None


def render_eval_view(store, category: str, model: str, labels: Sequence[str],
                     azimuth: float, elevation: float, image_size: int = 128, seed: int = 0,
                     views_per_model: int | None = None,
                     max_views: int = MAX_VIEWS_PER_MODEL) -> ViewSet:
    """The evaluation view of ``model`` at (``azimuth``, ``elevation``), rendered again as
    :func:`core.image_eval.data.iter_prepare` rendered it (same image, mask, camera and
    ground-truth points in ``labels`` order): a view set of that one view.

    Raises:
        core.learned2d.data.ImageDataError: no such model, an unreadable mesh.
        EvaluationDataError: no view of the model has these angles for this seed (another
            seed, or more than ``max_views`` views per model).
    """
    from core.learned2d.data import load_category_meshes, render_views

    config = RenderConfig(image_size=int(image_size))
    n = find_view_count(model, azimuth, elevation, seed, views_per_model, max_views, config)
    if n is None:
        raise EvaluationDataError(
            f"no evaluation view of {category}/{model} has azimuth {azimuth:.2f} and "
            f"elevation {elevation:.2f} with seed {seed} (up to {max_views} views per model)")
    meshes = load_category_meshes(store, category, models=[model])
    views = render_views(meshes.models, tuple(labels), n, config, seed=seed,
                         stream=EVAL_STREAM, keep_masks=True)
    for i in range(len(views)):
        if _angles_match(float(views.azimuth[i]), azimuth) and \
                abs(float(views.elevation[i]) - elevation) < ANGLE_TOLERANCE:
            return subset_views(views, [i])
    raise EvaluationDataError(f"the view of {category}/{model} at azimuth {azimuth:.2f}, "
                              f"elevation {elevation:.2f} could not be rendered again")
