"""Evaluation views again and the traced evaluation (core.image_eval.views / .traced), on a
small real project: a tiny real shape space, real renders, the real reconstruction (the
``search`` variant: no image networks needed).

- a view of the evaluation is rendered again, identical, from its model and angles alone
  (with or without the number of views per model);
- the traced evaluation scores exactly as ``evaluate`` does, streams every event of each
  view first, and stops inside a view when cancelled.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.image_eval.data import EvalInputs, EvaluationDataError, iter_prepare
from core.image_eval.evaluate import EvalProgress, EvalReport, evaluate
from core.image_eval.traced import ViewEvent, iter_evaluate_traced
from core.image_eval.views import find_view_count, render_eval_view, spread_views, subset_views
from core.store import ProjectStore

CATEGORY = "mug"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from core.demo.build_project import build_demo_project

    return build_demo_project(tmp_path_factory.mktemp("views") / "demo", n_models=10,
                              categories=[CATEGORY])


@pytest.fixture(scope="module")
def inputs(project) -> EvalInputs:
    """A tiny shape space (4 models) and 2 views of each held-out mug at 64 px."""
    with ProjectStore.open(project) as store:
        events = list(iter_prepare(store, str(project), CATEGORY, views_per_model=2,
                                   image_size=64, shape_iterations=15, max_models=4))
    assert isinstance(events[-1], EvalInputs)
    return events[-1]


def test_subset_and_spread(inputs):
    views = inputs.views
    spread = spread_views(views, 3)
    assert len(spread) == 3 and len({int(views.model[i]) for i in spread}) == 3  # 3 models
    assert spread_views(views, None) == list(range(len(views)))
    sub = subset_views(views, [3, 1])
    assert len(sub) == 2 and len(sub.cameras) == 2 and sub.masks.shape[0] == 2
    assert (sub.rgb[0] == views.rgb[3]).all() and sub.cameras[1] == views.cameras[1]
    assert sub.model_names == views.model_names


@pytest.mark.parametrize("views_per_model", [None, 2])
def test_a_view_is_rendered_again_identically(project, inputs, views_per_model):
    views = inputs.views
    with ProjectStore.open(project) as store:
        for i in (1, len(views) - 2):  # a second view of one model, a first of another
            model = views.model_names[int(views.model[i])]
            again = render_eval_view(store, CATEGORY, model, inputs.space.labels,
                                     float(views.azimuth[i]), float(views.elevation[i]),
                                     image_size=64, views_per_model=views_per_model)
            assert len(again) == 1
            assert (again.masks[0] == views.masks[i]).all()
            assert (again.rgb[0] == views.rgb[i]).all()
            np.testing.assert_array_equal(again.uv[0], views.uv[i])
            assert (again.visible[0] == views.visible[i]).all()
            assert again.cameras[0] == views.cameras[i]
        assert find_view_count(model, float(views.azimuth[i]), float(views.elevation[i])) == 2
        with pytest.raises(EvaluationDataError, match="no evaluation view"):
            render_eval_view(store, CATEGORY, model, inputs.space.labels, 1.234, 5.678,
                             image_size=64, max_views=4)


def test_traced_scores_equal_evaluate_and_stream_events(inputs):
    views = subset_views(inputs.views, spread_views(inputs.views, 2))
    events = list(iter_evaluate_traced(inputs.space, None, views, ("search",), steps=3,
                                       objective="fast"))
    report = events[-1]
    assert isinstance(report, EvalReport) and not report.cancelled
    plain = evaluate(inputs.space, None, views, variants=("search",), steps=3,
                     objective="fast")
    assert [r.stages for r in report.images] == [r.stages for r in plain.images]
    assert [r.model for r in report.images] == [r.model for r in plain.images]
    # every view's events come before its progress event, and end with "done"
    kinds = [(type(e).__name__, getattr(e, "index", None)) for e in events[:-1]]
    first_progress = kinds.index(("EvalProgress", None))
    assert first_progress > 5 and all(k == ("ViewEvent", 0) for k in kinds[:first_progress])
    assert events[first_progress - 1].event.stage == "done"
    assert sum(isinstance(e, EvalProgress) for e in events) == 2
    with pytest.raises(ValueError, match="only the 'search'"):
        next(iter_evaluate_traced(inputs.space, None, views, ("full",)))


def test_traced_stops_inside_a_view(inputs):
    class Cancel:
        cancelled = False

    cancel = Cancel()
    views = subset_views(inputs.views, [0, 1])
    seen = 0
    report = None
    for event in iter_evaluate_traced(inputs.space, None, views, ("search",), steps=30,
                                      cancel=cancel, objective="fast"):
        if isinstance(event, ViewEvent):
            seen += 1
            if seen == 3:
                cancel.cancelled = True
        report = event
    assert isinstance(report, EvalReport)
    assert report.cancelled and report.images == ()  # the half-done view is left out
