"""A report's image as a live reconstruction run in the Pose dock (worker thread, no Qt).

:func:`prepare_report_view` is the ``prepare`` of a Pose dock run (a
:class:`~ui.pose.run_worker.PrepareContext` in, a :class:`~ui.pose.run_worker.Prepared` out):
it loads the category's shape space (as the dock does), renders the row's view again
(:func:`core.image_eval.views.render_eval_view`: the same image, mask and ground truth the
evaluation had) and reconstructs it with the row's variant: ``search`` without image
networks, ``full`` with them, the ``gt_*`` variants with the ground truth replacing the
viewpoint and / or the points (:class:`core.image_eval.evaluate.TruthPredictor`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.image_eval.evaluate import TruthPredictor
from core.image_eval.views import render_eval_view
from ui.failures.eval_job import source_name, view_source
from ui.failures.report import FailureRow, RenderSettings
from ui.pose.recon_prepare import load_space
from ui.pose.recon_records import ReconstructRecordMaker, space_template
from ui.pose.run_worker import PrepareContext, Prepared


def variant_predictor(variant: str, predictor, labels: tuple[str, ...], views):
    """The predictor a variant reconstructs with (None: the silhouette search), for the
    one view of ``views``."""
    if variant == "search" or predictor is None:
        return None
    if variant == "full":
        return predictor
    uv = views.uv[0]
    visible = views.visible[0] & np.isfinite(uv).all(axis=1)
    points = variant in ("gt_keypoints", "gt_both")
    bins = (int(views.azimuth_bin[0]), int(views.elevation_bin[0])) \
        if variant in ("gt_viewpoint", "gt_both") else None
    return TruthPredictor(predictor, labels, uv if points else None,
                          visible if points else None, bins)


def prepare_report_view(store, target, category: str, row: FailureRow,
                        render: RenderSettings, steps: int, objective: str = "auto"
                        ) -> Callable[[PrepareContext], Prepared]:
    """The Pose dock ``prepare`` of ``row``'s image (see the module docstring)."""

    def prepare(ctx: PrepareContext) -> Prepared:
        from core.reconstruct.pipeline import iter_reconstruct
        from core.reconstruct.resources import find_predictor

        ctx.report(f"Loading the {category} shape space…")
        space, note = load_space(store, target, category, ctx)
        labels = tuple(space.labels)
        ctx.report(f"Rendering view {row.index} of {row.model} again…")
        views = render_eval_view(store, category, row.model, labels, row.azimuth,
                                 row.elevation, render.image_size, render.seed,
                                 render.views_per_model)
        source = view_source(views, 0, source_name(category, row.model, row.index,
                                                   row.azimuth, row.elevation))
        base = None
        if row.variant != "search":
            base = find_predictor(target, category, labels).predictor
        predictor = variant_predictor(row.variant, base, labels, views)
        if predictor is None:
            how = "no image networks: the silhouette search finds the viewpoints" \
                if row.variant != "search" else "variant search: silhouette search only"
        else:
            how = f"variant {row.variant}"

        def events(cancel):
            return iter_reconstruct(source.rgb, source.mask, space, predictor,
                                    objective=objective, steps=steps, cancel=cancel)

        maker = ReconstructRecordMaker(space, source.mask.shape, steps)
        return Prepared(source.mask, space_template(space), source, events=events,
                        maker=maker, notes=(note, how))

    return prepare
