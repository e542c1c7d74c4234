"""Preparing a reconstruction run in the run's worker thread (no Qt).

:func:`prepare_reconstruction` loads the source image (a synthetic view of the category's
pose template, a project image or a file), the category's shape space
(:func:`core.reconstruct.resources.iter_shape_space`: loaded from the project's artifacts
folder, or on first use a *quick* one built from a few training models, with progress
reported and the run's cancel token honoured) and the image predictor
(:func:`core.reconstruct.resources.find_predictor`; without one the silhouette search finds
the viewpoints). It returns a :class:`~ui.pose.run_worker.Prepared` whose ``events`` run
:func:`core.reconstruct.pipeline.iter_reconstruct` and whose ``maker`` turns its events into
step records (:mod:`ui.pose.recon_records`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

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


def prepare_reconstruction(store, target, category: str, kind: str, arg, seed: int,
                           pose_template: CategoryTemplate | None, space, objective: str,
                           steps: int, hypotheses: int,
                           on_loaded: Callable[[CategoryTemplate, object], None] | None = None
                           ) -> Callable[[PrepareContext], Prepared]:
    """The worker-thread ``prepare`` of a reconstruction run (see the module docstring).
    ``on_loaded(pose_template, space)`` is called there with what was loaded (to cache it)."""

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

        def events(cancel):
            return iter_reconstruct(source.rgb, source.mask, shape_space, predictor,
                                    objective=objective, steps=steps, cancel=cancel,
                                    hypotheses=hypotheses)

        maker = ReconstructRecordMaker(shape_space, source.mask.shape, steps)
        return Prepared(source.mask, run_template, source, events=events, maker=maker,
                        notes=(note, predictor_note))

    return prepare
