"""Build a category's shape space from the project, as a stream of events.

Steps: (1) the category's semantic points (:func:`core.shape_space.template.semantic_targets`)
and its annotated models: those with at least one semantic point placed; (2) the template
(:func:`core.shape_space.template.build_template`: most-annotated model, remeshed to 1-3k
vertices); (3) the template fitted to every annotated model, the template model included
(:func:`core.shape_space.fit.fit_template`, keypoint term on the model's placed points);
(4) PCA of the fitted shapes (:func:`core.shape_space.pca.pca_shapes`): the mean shape is
the new template (Li et al.'s template update, "the mean shape of instances"), the modes the
basis ``B``.

How many models. PCA of ``M`` shapes has at most ``M - 1`` modes, so a shape space needs at
least :data:`MIN_MODELS` = 3 annotated models (2 modes: the fewest that make a space rather
than the line through two shapes); fewer raise :class:`ShapeSpaceError` saying how many there
are. ``K`` is ``min(k, M - 1)`` (To The Point uses ``K = 16``, so 17 models or more give the
full basis).

Events: :class:`BuildStarted`, then per model :class:`ModelFitStep` (every Adam step) and
:class:`ModelFitted`, and last :class:`ShapeSpaceDone` holding the :class:`ShapeSpace`. A
cancel token (:class:`core.embedding.trainer.CancelToken` or anything with ``cancelled``)
stops the build between steps; the last event then has ``shape_space=None`` and
``cancelled=True``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core.shape_space.errors import ShapeSpaceError
from core.shape_space.fit import Cancel, FitConfig, FitStep, FittedShape, fit_template
from core.shape_space.model import ModelFit, ShapeSpace
from core.shape_space.pca import pca_shapes
from core.shape_space.template import (
    MAX_TEMPLATE_VERTICES,
    MIN_TEMPLATE_VERTICES,
    SemanticTargets,
    ShapeTemplate,
    build_template,
    semantic_targets,
)
from core.store import ProjectStore

__all__ = ["MIN_MODELS", "BuildStarted", "ModelFitStep", "ModelFitted", "ShapeSpaceDone",
           "ShapeSpaceEvent", "build_shape_space", "run_build"]

MIN_MODELS = 3


@dataclass(frozen=True)
class BuildStarted:
    """The template is ready and the fits start.

    ``models``: the models to fit, in order; ``skipped``: models of the category left out
    (no semantic point placed, or not asked for); ``n_vertices``/``n_faces``/``remesh``: the
    template mesh; ``labels``: its semantic points.
    """

    category: str
    template_model: str
    models: tuple[str, ...]
    skipped: tuple[str, ...]
    n_vertices: int
    n_faces: int
    remesh: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ModelFitStep:
    """One Adam step of the fit of model ``index`` (0-based) of ``n_models``."""

    model: str
    index: int
    n_models: int
    step: FitStep


@dataclass(frozen=True)
class ModelFitted:
    """Model ``index`` of ``n_models`` is fitted: its report and the fitted vertices (N, 3)."""

    model: str
    index: int
    n_models: int
    report: ModelFit
    vertices: np.ndarray


@dataclass(frozen=True)
class ShapeSpaceDone:
    """The end of a build: the shape space, or None when cancelled; wall seconds."""

    shape_space: ShapeSpace | None
    cancelled: bool
    seconds: float


ShapeSpaceEvent = BuildStarted | ModelFitStep | ModelFitted | ShapeSpaceDone


def build_shape_space(store: ProjectStore, category: str, k: int = 16, iterations: int = 200,
                      *, config: FitConfig | None = None, models: Sequence[str] | None = None,
                      template_model: str | None = None, mode: str = "annotator",
                      annotator: str | None = None,
                      min_vertices: int = MIN_TEMPLATE_VERTICES,
                      max_vertices: int = MAX_TEMPLATE_VERTICES,
                      cancel: Cancel | None = None) -> Iterator[ShapeSpaceEvent]:
    """Build the shape space of ``category`` (see the module docstring), streaming events.

    The category, models and counts are checked when this is called; the template and the
    fits run as the events are asked for.

    Args:
        k: modes wanted (capped at ``M - 1``).
        iterations: Adam steps per model (overrides ``config.iterations``).
        config: the rest of the fit settings (:class:`FitConfig`).
        models: fit only these models (default: every annotated model of the category).
        template_model: the model to make the template from (default: the most-annotated).
        mode, annotator: which semantic points (:func:`semantic_targets`).
        min_vertices, max_vertices: the template's vertex range.

    Raises:
        ShapeSpaceError: unknown category or model, no semantic points, fewer than
            :data:`MIN_MODELS` annotated models; while streaming: a model's mesh that cannot
            be read, a fit that diverges.
    """
    try:
        sets = store.category_sets(category)
    except KeyError as exc:
        raise ShapeSpaceError(f"no category {category!r} in the project") from exc
    targets = semantic_targets(sets, mode, annotator)
    annotated = targets.placed.any(axis=1)
    names = list(targets.model_names)
    if models is not None:
        unknown = [m for m in models if m not in names]
        if unknown:
            raise ShapeSpaceError(f"category {category!r} has no model(s) {unknown}")
        wanted = set(models)
    else:
        wanted = set(names)
    chosen = [m for i, m in enumerate(names) if annotated[i] and m in wanted]
    if len(chosen) < MIN_MODELS:
        raise ShapeSpaceError(
            f"category {category!r} has {len(chosen)} annotated model"
            f"{'' if len(chosen) == 1 else 's'}"
            f"{' among those asked for' if models is not None else ''}; a shape space needs "
            f"at least {MIN_MODELS}")
    if k < 1:
        raise ShapeSpaceError(f"k must be >= 1, got {k}")
    if template_model is not None and template_model not in names:
        raise ShapeSpaceError(f"category {category!r} has no model {template_model!r}")
    cfg = FitConfig(**{**asdict(config or FitConfig()), "iterations": int(iterations)})
    settings = {"k": k, "mode": mode, "annotator": annotator, "min_vertices": min_vertices,
                "max_vertices": max_vertices, "fit": asdict(cfg)}
    return _build(store, category, targets, chosen, template_model, settings, cfg, cancel)


def run_build(events: Iterator[ShapeSpaceEvent]) -> ShapeSpace:
    """Consume a build's events; returns the shape space.

    Raises:
        ShapeSpaceError: the build was cancelled.
    """
    for event in events:
        if isinstance(event, ShapeSpaceDone):
            if event.shape_space is None:
                raise ShapeSpaceError("the shape space build was cancelled")
            return event.shape_space
    raise ShapeSpaceError("the shape space build ended without a result")


# ----------------------------------------------------------------------------- internals


def _build(store: ProjectStore, category: str, targets: SemanticTargets, chosen: list[str],
           template_model: str | None, settings: dict, cfg: FitConfig,
           cancel: Cancel | None) -> Iterator[ShapeSpaceEvent]:
    from core.geometry.mesh import MeshError
    from core.model_scene import load_model_scene

    t0 = time.perf_counter()
    rows = [targets.model_names.index(m) for m in chosen]
    if template_model is None:  # the most-annotated of the chosen models (ties: by name)
        counts = targets.placed[rows].sum(axis=1)
        template_model = chosen[int(np.argmax(counts))]
    template = build_template(store, category, template_model, targets=targets,
                              min_vertices=settings["min_vertices"],
                              max_vertices=settings["max_vertices"])
    skipped = tuple(m for m in targets.model_names if m not in chosen)
    yield BuildStarted(category, template.model, tuple(chosen), skipped,
                       len(template.vertices), len(template.faces), template.remesh,
                       template.labels)
    fitted: list[np.ndarray] = []
    reports: list[ModelFit] = []
    for index, (name, row) in enumerate(zip(chosen, rows, strict=True)):
        try:
            scene = load_model_scene(store, store.model(category, name))
        except MeshError as exc:
            raise ShapeSpaceError(f"model {category}/{name}: {exc}") from exc
        result = None
        for event in fit_template(template.vertices, template.faces, scene.vertices,
                                  scene.faces, template.point_faces, template.point_bary,
                                  targets.xyz[row, template.columns], cfg, cancel):
            if isinstance(event, FitStep):
                yield ModelFitStep(name, index, len(chosen), event)
            else:
                result = event
        assert isinstance(result, FittedShape)
        if result.cancelled:
            yield ShapeSpaceDone(None, True, time.perf_counter() - t0)
            return
        report = ModelFit(name, result.chamfer, result.rms, result.keypoint_error,
                          result.n_keypoints, result.iterations, result.seconds)
        fitted.append(result.vertices)
        reports.append(report)
        yield ModelFitted(name, index, len(chosen), report, result.vertices)
    yield ShapeSpaceDone(_assemble(template, chosen, fitted, reports, settings), False,
                         time.perf_counter() - t0)


def _assemble(template: ShapeTemplate, chosen: list[str], fitted: list[np.ndarray],
              reports: list[ModelFit], settings: dict) -> ShapeSpace:
    """PCA of the fitted shapes and the reconstruction error of each."""
    shapes = np.stack(fitted)                                            # (M, N, 3)
    pca = pca_shapes(shapes, settings["k"])
    recon = pca.mean + np.tensordot(pca.coefficients, pca.basis, axes=([1], [0]))
    rms = np.sqrt(((recon - shapes) ** 2).sum(axis=2).mean(axis=1))      # (M,)
    fits = tuple(ModelFit(**{**asdict(r), "reconstruction_rms": float(e)})
                 for r, e in zip(reports, rms, strict=True))
    return ShapeSpace(
        category=template.category, template_model=template.model, mean=pca.mean,
        basis=pca.basis, singular_values=pca.singular_values,
        explained_variance=pca.explained_variance, explained_ratio=pca.explained_ratio,
        faces=template.faces, point_faces=template.point_faces,
        point_bary=template.point_bary, labels=template.labels, names=template.names,
        model_names=tuple(chosen), coefficients=pca.coefficients, fits=fits,
        config={**settings, "template_remesh": template.remesh,
                "template_watertight": template.watertight})
