"""What an image evaluation needs for one category of a project: the shape space, the
image predictor (if trained) and renders of models that neither has seen.

The shape space and the networks come from the category's artifacts folder
(:mod:`core.reconstruct.resources`; the shape space is built from the training split when
missing). Held-out models are the category's annotated models that are not among the shape
space's models nor the networks' training models (from the checkpoint's sidecar).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.learned2d.data import RenderConfig, ViewSet, load_category_meshes, render_views
from core.reconstruct.resources import ShapeSpaceReady, find_predictor, iter_shape_space
from core.shape_space import ModelFitted

EVAL_STREAM = 7  # render stream of evaluation views (training uses 0, validation 1)


class EvaluationDataError(ValueError):
    """No held-out model to evaluate on, or views that could not be rendered."""


@dataclass(frozen=True, eq=False)
class EvalInputs:
    """The shape space, the predictor (None: none usable, ``predictor_note`` says why),
    the held-out views and the held-out model names."""

    space: object
    predictor: object | None
    predictor_note: str
    views: ViewSet
    held_out: tuple[str, ...]


@dataclass(frozen=True)
class PrepareProgress:
    """A line about the preparation (shape space build, rendering)."""

    message: str


def iter_prepare(store, project_target: str | Path, category: str, views_per_model: int = 4,
                 image_size: int = 128, seed: int = 0, shape_iterations: int = 200,
                 max_models: int | None = None, shape_path: str | Path | None = None,
                 cancel=None) -> Iterator[PrepareProgress | EvalInputs]:
    """Load or build what :func:`core.image_eval.evaluate.iter_evaluate` needs; stream
    progress lines, end with :class:`EvalInputs`.

    Raises:
        core.reconstruct.ReconstructionError: no shape space can be made (too few models...).
        EvaluationDataError: no held-out annotated model, or no view could be rendered.
    """
    space = None
    for event in iter_shape_space(store, project_target, category, shape_path,
                                  iterations=shape_iterations, max_models=max_models,
                                  cancel=cancel):
        if isinstance(event, ShapeSpaceReady):
            space = event.shape_space
            yield PrepareProgress(f"shape space: {event.path} "
                                  f"({'built' if event.built else 'loaded'}, "
                                  f"{len(space.model_names)} models, K={space.k})")
        elif isinstance(event, ModelFitted):
            yield PrepareProgress(f"shape space: fitted {event.model} "
                                  f"({event.index + 1}/{event.n_models})")
    assert space is not None
    lookup = find_predictor(project_target, category, labels=tuple(space.labels))
    yield PrepareProgress(lookup.note)
    seen = set(space.model_names)
    if lookup.path is not None and lookup.predictor is not None:
        from core.learned2d.checkpoint import read_image_sidecar

        seen |= set(read_image_sidecar(lookup.path).get("train_models", []))
    annotated = [m.name for m in store.models(category) if m.n_keypoints > 0]
    held_out = tuple(m for m in annotated if m not in seen)
    if not held_out:
        raise EvaluationDataError(
            f"category {category!r}: every annotated model was used to build the shape space "
            "or train the image networks; there is no held-out model to evaluate on")
    meshes = load_category_meshes(store, category)  # all: the labels depend on every model
    missing = [label for label in space.labels if label not in meshes.labels]
    if missing:
        raise EvaluationDataError(
            f"category {category!r}: the shape space's semantic points {missing} are not in "
            "the project any more (annotations changed since it was built); delete the "
            "shape space to rebuild it")
    yield PrepareProgress(f"rendering {views_per_model} views of {len(held_out)} held-out "
                          f"models at {image_size} px")
    models = [m for m in meshes.models if m.name in held_out]
    views = render_views(models, space.labels, views_per_model,
                         RenderConfig(image_size=image_size), seed=seed, stream=EVAL_STREAM,
                         cancel=cancel, keep_masks=True)
    if len(views) == 0:
        raise EvaluationDataError(f"category {category!r}: no evaluation view could be rendered")
    yield EvalInputs(space, lookup.predictor, lookup.note, views, held_out)
