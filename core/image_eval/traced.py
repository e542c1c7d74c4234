"""An evaluation that streams every reconstruction event, so that a caller (the GUI's
failure browser) can keep each image's run and replay it.

:func:`iter_evaluate_traced` scores the views as :func:`core.image_eval.evaluate.iter_evaluate`
does (the same per-stage PCK, IoU and rotation error, computed the same way), but yields each
view's :class:`~core.reconstruct.records.ReconstructEvent` s as :class:`ViewEvent` s before
the view's :class:`~core.image_eval.evaluate.EvalProgress`, honours ``cancel`` inside a
reconstruction too (a view cancelled half-way is left out), and skips what only tables need:
the 2D baselines (each image's ``baselines`` is empty) and the cycle (no pairs).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from core.cameras import PerspectiveCamera
from core.image_eval.evaluate import (
    VARIANTS,
    EvalProgress,
    EvalReport,
    ImageResult,
    VariantRun,
    _variant_predictor,
    stage_scores,
    variant_events,
)


@dataclass(frozen=True)
class ViewEvent:
    """One reconstruction event of view ``index`` under ``variant``."""

    index: int
    variant: str
    event: object  # core.reconstruct.records.ReconstructEvent


def iter_evaluate_traced(space, predictor, views, variants: Sequence[str] = ("search",),
                         steps: int = 40, cancel=None, **reconstruct_kwargs
                         ) -> Iterator[ViewEvent | EvalProgress | EvalReport]:
    """Evaluate ``views`` (rendered with ``keep_masks=True``, points in ``space.labels``
    order) per variant, streaming every reconstruction event (see the module docstring).

    Raises:
        ValueError: views without masks or cameras, an unknown variant, or a variant that
            needs the image networks without a ``predictor``.
    """
    if views.masks is None or len(views.cameras) != len(views):
        raise ValueError("the views need their masks and cameras (render_views(..., "
                         "keep_masks=True))")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if predictor is None and any(v != "search" for v in variants):
        raise ValueError("without image networks only the 'search' variant can run")
    t0 = time.perf_counter()
    results: list[ImageResult] = []
    cancelled = False
    for i in range(len(views)):
        if cancel is not None and getattr(cancel, "cancelled", False):
            cancelled = True
            break
        rgb, mask = views.rgb[i], views.masks[i]
        truth = PerspectiveCamera.from_dict(views.cameras[i])
        gt_uv = views.uv[i]
        gt_vis = views.visible[i] & np.isfinite(views.uv[i]).all(axis=1)
        bins = (int(views.azimuth_bin[i]), int(views.elevation_bin[i]))
        stages, seconds, notes, failures = {}, {}, (), []
        for variant in variants:
            pred = _variant_predictor(variant, predictor, space.labels, gt_uv, gt_vis, bins)
            run = VariantRun(variant)
            for event in variant_events(run, rgb, mask, space, pred, steps, cancel=cancel,
                                        **reconstruct_kwargs):
                yield ViewEvent(i, variant, event)
            if run.failure is not None:
                failures.append(run.failure)
            done = run.done
            if getattr(done, "cancelled", False) or (
                    cancel is not None and getattr(cancel, "cancelled", False)):
                cancelled = True
                break
            seconds[variant] = run.seconds
            stages[variant] = stage_scores(run.last, done, gt_uv, gt_vis, mask, truth)
            if variant == variants[0]:
                notes = tuple(getattr(done, "notes", ()) or ())
        if cancelled:
            break
        model = views.model_names[int(views.model[i])] if views.model_names else str(i)
        result = ImageResult(i, model, float(views.azimuth[i]), float(views.elevation[i]),
                             stages, {}, seconds, notes + tuple(failures))
        results.append(result)
        yield EvalProgress(i + 1, len(views), result)
    yield EvalReport(space.category, tuple(results), (),
                     {"variants": list(variants), "cycle_variants": [], "steps": steps,
                      "n_views": len(views), "models": list(views.model_names)},
                     time.perf_counter() - t0, cancelled)
