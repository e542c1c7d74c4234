"""The browser's own evaluation of a category, run in a worker thread (no Qt).

:func:`evaluate_category` prepares the evaluation as ``evaluate-images`` does
(:func:`core.image_eval.data.iter_prepare`: the category's shape space, loaded or built
quickly as the Pose dock builds it, the image networks if any, renders of held-out models),
keeps a few views spread over the models (:func:`core.image_eval.views.spread_views`) and
evaluates them with :func:`core.image_eval.traced.iter_evaluate_traced`, one variant:
``full`` with image networks, else ``search`` (no networks needed). Each image's
reconstruction events become the Pose dock's step records as they come, so a finished image
arrives (:class:`EvaluatedImage`) with its whole run, ready to replay, and with its source
image, mask and ground truth.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.cameras import PerspectiveCamera
from core.image_eval.data import EVAL_STREAM, EvalInputs, iter_prepare
from core.image_eval.evaluate import EvalProgress, EvalReport
from core.image_eval.traced import ViewEvent, iter_evaluate_traced
from core.image_eval.views import spread_views, subset_views
from ui.failures.report import RenderSettings, rows_of_result
from ui.pose.recon_prepare import QUICK_ITERATIONS, QUICK_MODELS
from ui.pose.recon_records import ReconstructRecordMaker, space_template
from ui.pose.records import camera_geometry
from ui.pose.sources import GroundTruth, PoseSource


@dataclass(frozen=True)
class EvalOptions:
    """What to evaluate: views per held-out model, at most ``max_images`` of them (None:
    all), render side and seed, refinement steps and objective."""

    views_per_model: int = 1
    max_images: int | None = 4
    image_size: int = 128
    seed: int = 0
    steps: int = 20
    objective: str = "auto"

    @property
    def render(self) -> RenderSettings:
        return RenderSettings(self.image_size, self.seed, self.views_per_model)


@dataclass(frozen=True)
class EvalMessage:
    """What the preparation or the evaluation is doing."""

    text: str


@dataclass(frozen=True)
class EvalStarted:
    """The evaluation runs: its category, variant, run template (the shape space's mean
    shape), what the predictor lookup said and how many images it evaluates."""

    category: str
    variant: str
    template: object  # CategoryTemplate
    predictor_note: str
    n_images: int
    options: EvalOptions


@dataclass(frozen=True)
class EvaluatedImage:
    """One image done: its result (``index`` the view's index in the whole evaluation), its
    rows, its run's step records and its source."""

    result: object  # ImageResult
    rows: list
    records: list
    source: PoseSource
    variant: str


@dataclass(frozen=True)
class EvalFinished:
    """The evaluation's report (images evaluated before a stop), the held-out models."""

    report: EvalReport
    held_out: tuple[str, ...]
    predictor_note: str


def view_source(views, i: int, name: str) -> PoseSource:
    """View ``i`` of an evaluation view set as a Pose dock source: its render, mask and
    ground truth (the points in the view set's label order, the true camera)."""
    uv = np.asarray(views.uv[i], dtype=np.float64)
    known = np.asarray(views.placed[i], dtype=bool) & np.isfinite(uv).all(axis=1)
    truth = GroundTruth(np.where(known[:, None], uv, np.nan), known,
                        np.asarray(views.visible[i], dtype=bool) & known,
                        camera_geometry(PerspectiveCamera.from_dict(views.cameras[i])))
    return PoseSource(name, np.asarray(views.rgb[i]), np.asarray(views.masks[i], dtype=bool),
                      "render", truth)


def source_name(category: str, model: str, index: int, azimuth: float,
                elevation: float) -> str:
    """How an evaluation view is named in the Pose dock."""
    return (f"evaluation view {index} of {category}/{model} (az {azimuth:.0f}, "
            f"el {elevation:.0f})")


def evaluate_category(store, target, category: str, options: EvalOptions, cancel,
                      emit: Callable[[object], None]) -> EvalFinished:
    """Evaluate ``category`` (see the module docstring); ``emit`` gets
    :class:`EvalMessage`, :class:`EvalStarted` and :class:`EvaluatedImage` s, the end is
    returned. ``cancel.cancelled`` stops it (the report then holds the finished images).

    Raises:
        core.reconstruct.ReconstructionError, core.image_eval.data.EvaluationDataError:
            no shape space, no held-out model (as ``evaluate-images``).
    """
    inputs = None
    for event in iter_prepare(store, target, category, options.views_per_model,
                              options.image_size, options.seed,
                              shape_iterations=QUICK_ITERATIONS, max_models=QUICK_MODELS,
                              cancel=cancel):
        if isinstance(event, EvalInputs):
            inputs = event
        else:
            emit(EvalMessage(event.message))
    if inputs is None:
        raise RuntimeError("the evaluation could not be prepared")
    space, predictor = inputs.space, inputs.predictor
    variant = "full" if predictor is not None else "search"
    chosen = spread_views(inputs.views, options.max_images)
    views = subset_views(inputs.views, chosen)
    template = space_template(space)
    emit(EvalStarted(category, variant, template, inputs.predictor_note, len(views), options))
    records: list = []
    maker = ReconstructRecordMaker(space, views.masks.shape[1:], options.steps)
    t0 = time.perf_counter()
    report = None
    for event in iter_evaluate_traced(space, predictor, views, (variant,), options.steps,
                                      cancel, objective=options.objective):
        if isinstance(event, ViewEvent):
            if not records:
                t0 = time.perf_counter()
                emit(EvalMessage(f"Evaluating image {event.index + 1} of {len(views)}…"))
            record = maker(len(records), event.event, time.perf_counter() - t0)
            if record is not None:
                records.append(record)
        elif isinstance(event, EvalProgress) and event.latest is not None:
            i = event.done - 1
            result = dataclasses.replace(event.latest, index=chosen[i])
            name = source_name(category, result.model, result.index, result.azimuth,
                               result.elevation)
            emit(EvaluatedImage(result, rows_of_result(result), records,
                                view_source(views, i, name), variant))
            records = []
        elif isinstance(event, EvalReport):
            report = event
    assert report is not None
    images = tuple(dataclasses.replace(r, index=chosen[r.index]) for r in report.images)
    settings = {**report.settings, "image_size": options.image_size, "seed": options.seed,
                "views_per_model": options.views_per_model, "stream": EVAL_STREAM,
                "objective": options.objective}
    report = dataclasses.replace(report, images=images, settings=settings)
    return EvalFinished(report, inputs.held_out, inputs.predictor_note)
