"""Preparing a reconstruction run in the run's worker thread (no Qt).

:func:`prepare_reconstruction` loads the source image (a synthetic view of the category's
pose template, a project image or a file), the category's shape space
(:func:`core.reconstruct.resources.iter_shape_space`: loaded from the project's artifacts
folder, or on first use a *quick* one built from a few training models, with progress
reported and the run's cancel token honoured) and the image predictor
(:func:`core.reconstruct.resources.find_predictor`; without one the silhouette search finds
the viewpoints). Without an image predictor, 2D points given for the source drive TTP and
the refinement's keypoint term instead (:mod:`core.reconstruct.given_keypoints`): the points
clicked on a project image, or, in a *TTP solve* run (TTP needs points), a synthetic view's
true visible points; the run's notes say which.

It returns a :class:`~ui.pose.run_worker.Prepared` whose ``events`` run
:func:`core.reconstruct.pipeline.iter_reconstruct` and whose ``maker`` turns its events into
step records (:mod:`ui.pose.recon_records`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from core.pose.category_template import CategoryTemplate, load_category_template
from ui.pose.recon_records import ReconstructRecordMaker, space_template, truth_for_space
from ui.pose.run_worker import PrepareContext, Prepared
from ui.pose.sources import file_source, project_image_source, synthetic_source

QUICK_MODELS = 8  # a first shape space in the GUI is built from this many training models
QUICK_ITERATIONS = 80  # ...with this many fitting iterations each
FULL_HINT = "`corrstudio reconstruct` builds the full one"


def load_source(store, kind: str, arg, seed: int, template: CategoryTemplate):
    """The run's :class:`~ui.pose.sources.PoseSource` (``kind`` as in the source combo)."""
    if kind == "synthetic":
        return synthetic_source(template, seed)
    if kind == "image":
        return project_image_source(store, int(arg), template)
    return file_source(arg)


def load_space(store, target, category: str, ctx: PrepareContext, cached=None):
    """The category's shape space (cached, loaded, or built quickly; progress to ``ctx``);
    returns ``(space, note)``."""
    from core.reconstruct.resources import ShapeSpaceReady, iter_shape_space
    from core.shape_space import ModelFitStep, ModelFitted

    if cached is not None:
        return cached, "shape space: loaded"
    fitted = 0
    ready = None
    for event in iter_shape_space(store, target, category, iterations=QUICK_ITERATIONS,
                                  max_models=QUICK_MODELS, cancel=ctx.control):
        if isinstance(event, ModelFitted):
            fitted += 1
            ctx.report(f"Building a quick {category} shape space: {fitted} models fitted "
                       f"({FULL_HINT})…")
        elif isinstance(event, ModelFitStep):
            ctx.report(f"Building a quick {category} shape space (first use): fitting model "
                       f"{fitted + 1}… Stop cancels; {FULL_HINT}")
        elif isinstance(event, ShapeSpaceReady):
            ready = event
    if ready is None:
        raise RuntimeError("no shape space was made")
    if ready.built:
        note = (f"quick shape space built from {len(ready.train_models)} models and saved "
                f"({FULL_HINT})")
    else:
        note = f"shape space: {ready.path.name}"
    return ready.shape_space, note


def given_points(store, kind: str, arg, source, shape_space, synthetic: bool = True):
    """The 2D points given for the source (see the module docstring), or None: a project
    image's clicked points, or (``synthetic``) a synthetic view's true visible points."""
    from core.reconstruct.given_keypoints import given_keypoints, image_keypoints_for_space

    labels, category = tuple(shape_space.labels), shape_space.category
    if kind == "image":
        given = image_keypoints_for_space(store, int(arg), category, labels)
        return given if given.count else None
    truth = source.truth
    if synthetic and kind == "synthetic" and truth is not None:
        ok = truth.known & truth.visible & np.isfinite(truth.uv).all(axis=1)
        points = {label: tuple(truth.uv[j]) for j, label in enumerate(labels) if ok[j]}
        given = given_keypoints(category, labels, points,
                                "from the synthetic view's ground truth")
        return given if given.count else None
    return None


def prepare_reconstruction(store, target, category: str, kind: str, arg, seed: int,
                           pose_template: CategoryTemplate | None, space, objective: str,
                           steps: int, hypotheses: int,
                           on_loaded: Callable[[CategoryTemplate, object], None] | None = None,
                           refine: bool = True) -> Callable[[PrepareContext], Prepared]:
    """The worker-thread ``prepare`` of a reconstruction run (see the module docstring).
    ``on_loaded(pose_template, space)`` is called there with what was loaded (to cache it).
    ``refine=False`` stops after the viewpoint and TTP stages (a *TTP solve* run: no
    screening, no refinement steps; the best-scored start is the result)."""

    def prepare(ctx: PrepareContext) -> Prepared:
        from core.reconstruct.pipeline import iter_reconstruct
        from core.reconstruct.resources import find_predictor

        template = pose_template
        if template is None and kind in ("synthetic", "image"):
            ctx.report(f"Loading the {category} template and the source image…")
            template = load_category_template(store, category)
        source = load_source(store, kind, arg, seed, template)
        ctx.report(f"Loading the {category} shape space…")
        shape_space, note = load_space(store, target, category, ctx, space)
        if on_loaded is not None:
            on_loaded(template, shape_space)
        lookup = find_predictor(target, category, tuple(shape_space.labels))
        predictor_note = lookup.note if lookup.predictor is not None else \
            "no image predictor: the silhouette search finds the viewpoints"
        if template is not None:
            source = replace(source, truth=truth_for_space(source.truth, template,
                                                           tuple(shape_space.labels)))
        else:
            source = replace(source, truth=None)
        run_template = space_template(shape_space)
        predictor = lookup.predictor
        if predictor is None:
            given = given_points(store, kind, arg, source, shape_space, synthetic=not refine)
            if given is not None:
                predictor = given
                predictor_note = (f"TTP on {given.count} 2D points {given.origin} (no image "
                                  f"predictor: the silhouette search finds the viewpoints)")
        if not refine and predictor is None:
            raise ValueError("a TTP solve needs 2D points: train the category's image "
                             "networks, click points on a project image (Annotate > Image "
                             "points), or use a synthetic view")
        run_steps = steps if refine else 0
        extra = {} if refine else {"screen": 0}

        def events(cancel):
            return iter_reconstruct(source.rgb, source.mask, shape_space, predictor,
                                    objective=objective, steps=run_steps, cancel=cancel,
                                    hypotheses=hypotheses, **extra)

        maker = ReconstructRecordMaker(shape_space, source.mask.shape, run_steps)
        return Prepared(source.mask, run_template, source, events=events, maker=maker,
                        notes=(note, predictor_note))

    return prepare
