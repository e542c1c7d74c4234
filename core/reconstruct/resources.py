"""A project's reconstruction resources: the category's shape space and image predictor.

Both live in the category's artifacts folder (:func:`core.paths.artifacts_dir`):

- ``shape_space.safetensors`` / ``shape_space.json``
  (:func:`core.shape_space.save_shape_space`). When missing it is built from the category's
  *training* models only (:func:`core.learned2d.split.split_models`: held-out models are
  never seen, so they can be used for evaluation) and saved there.
- ``image_nets/best.safetensors`` (or ``last``), loaded with
  ``core.learned2d.checkpoint.load_predictor`` when that module and a checkpoint exist. A
  missing, unreadable or mismatched checkpoint is not an error: reconstruction falls back
  to the silhouette search, and :class:`PredictorLookup` says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.reconstruct.errors import ReconstructionError
from core.shape_space import (
    MIN_MODELS,
    ShapeSpace,
    ShapeSpaceDone,
    ShapeSpaceError,
    ShapeSpaceEvent,
    build_shape_space,
    load_shape_space,
    save_shape_space,
)
from core.shape_space.model import shape_space_paths

SHAPE_SPACE_NAME = "shape_space"
IMAGE_NETS_NAME = "image_nets"
CHECKPOINT_NAMES = ("best.safetensors", "last.safetensors")


def shape_space_path(project_target: str | Path, category: str) -> Path:
    """Where a project keeps the category's shape space (without suffix)."""
    from core.paths import artifacts_dir

    return artifacts_dir(project_target, category) / SHAPE_SPACE_NAME


def image_nets_dir(project_target: str | Path, category: str) -> Path:
    """Where a project keeps the category's image networks."""
    from core.paths import artifacts_dir

    return artifacts_dir(project_target, category) / IMAGE_NETS_NAME


@dataclass(frozen=True)
class ShapeSpaceReady:
    """The shape space to use: loaded (``built=False``) or built and saved now; ``path``
    without suffix; ``train_models`` / ``held_out``: the split it was built from (empty when
    loaded)."""

    shape_space: ShapeSpace
    path: Path
    built: bool
    train_models: tuple[str, ...] = ()
    held_out: tuple[str, ...] = ()


def iter_shape_space(store, project_target: str | Path, category: str,
                     path: str | Path | None = None, *, rebuild: bool = False,
                     iterations: int = 200, k: int = 16, max_models: int | None = None,
                     cancel=None,
                     **build_kwargs) -> Iterator[ShapeSpaceEvent | ShapeSpaceReady]:
    """Load the category's shape space, or build it from the training split and save it;
    stream the build's events and end with :class:`ShapeSpaceReady`.

    Args:
        store: the open :class:`~core.store.ProjectStore`.
        project_target: the project's file or URL (for the default path).
        path: the shape space file (default :func:`shape_space_path`).
        rebuild: build even when a file exists.
        max_models: build from the first this many training models only (quick builds).
        iterations, k, cancel, build_kwargs: for :func:`core.shape_space.build_shape_space`.

    Raises:
        ReconstructionError: an existing file that cannot be read or is of another category;
            an unknown category; fewer than :data:`~core.shape_space.MIN_MODELS` annotated
            training models (says how many there are and how many are needed); a cancelled
            build.
    """
    target = Path(path) if path is not None else shape_space_path(project_target, category)
    arrays, sidecar = shape_space_paths(target)
    if not rebuild and (arrays.exists() or sidecar.exists()):
        try:
            space = load_shape_space(target, expect_category=category)
        except ShapeSpaceError as exc:
            raise ReconstructionError(f"{exc} (delete it to rebuild it from the project)") \
                from exc
        yield ShapeSpaceReady(space, target, False)
        return
    train, held_out = training_models(store, category)
    if max_models is not None:
        train = train[:max(int(max_models), MIN_MODELS)]
    try:
        events = build_shape_space(store, category, k=k, iterations=iterations, models=train,
                                   cancel=cancel, **build_kwargs)
    except ShapeSpaceError as exc:
        raise ReconstructionError(f"{exc}; {len(held_out)} more are held out for evaluation "
                                  f"(the shape space is built from the training split)") \
            from exc
    space = None
    for event in events:
        yield event
        if isinstance(event, ShapeSpaceDone):
            space = event.shape_space
    if space is None:
        raise ReconstructionError("the shape space build was cancelled")
    save_shape_space(space, target)
    yield ShapeSpaceReady(space, target, True, train, held_out)


def load_or_build_shape_space(store, project_target: str | Path, category: str,
                              path: str | Path | None = None, **kwargs) -> ShapeSpaceReady:
    """Run :func:`iter_shape_space` to the end; same arguments and errors."""
    for event in iter_shape_space(store, project_target, category, path, **kwargs):
        if isinstance(event, ShapeSpaceReady):
            return event
    raise ReconstructionError("the shape space could not be made")  # unreachable


def training_models(store, category: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training, held-out) annotated models of ``category`` (models with keypoints).

    Raises:
        ReconstructionError: unknown category, or fewer than ``MIN_MODELS`` annotated
            training models.
    """
    from core.learned2d.split import split_models

    try:
        infos = store.models(category)
    except KeyError as exc:
        raise ReconstructionError(f"no category {category!r} in the project") from exc
    annotated = [m.name for m in infos if m.n_keypoints > 0]
    train, held_out = split_models(annotated)
    if len(train) < MIN_MODELS:
        raise ReconstructionError(
            f"category {category!r} has {len(annotated)} annotated model"
            f"{'' if len(annotated) == 1 else 's'} ({len(train)} for training, "
            f"{len(held_out)} held out); a shape space needs at least {MIN_MODELS} annotated "
            f"training models, so annotate at least "
            f"{_needed(len(annotated))} models of the category")
    return train, held_out


def _needed(n_annotated: int) -> int:
    """The fewest annotated models whose training split holds ``MIN_MODELS``."""
    from core.learned2d.split import split_models

    n = max(n_annotated, MIN_MODELS)
    while len(split_models([f"m{i}" for i in range(n)])[0]) < MIN_MODELS:
        n += 1
    return n


@dataclass(frozen=True)
class PredictorLookup:
    """The image predictor found for a category, or None; ``path`` of the checkpoint tried
    (None when there was none) and ``note``: what happened, in words."""

    predictor: object | None
    path: Path | None
    note: str


def find_predictor(project_target: str | Path, category: str,
                   labels: tuple[str, ...] | None = None,
                   path: str | Path | None = None) -> PredictorLookup:
    """The category's image predictor, if one can be used.

    Looks for ``best.safetensors`` (then ``last``) in ``path`` (a folder or a checkpoint
    file; default :func:`image_nets_dir`) and loads it lazily with
    ``core.learned2d.checkpoint.load_predictor``. Any failure (no checkpoint, the module
    missing, a broken file, another category, no semantic point in common with ``labels``)
    gives ``predictor=None`` and a note; nothing is raised.
    """
    where = Path(path) if path is not None else image_nets_dir(project_target, category)
    ckpt = where if where.is_file() else next(
        (where / n for n in CHECKPOINT_NAMES if (where / n).is_file()), None)
    fallback = "viewpoints from the silhouette search"
    if ckpt is None:
        return PredictorLookup(None, None, f"no image network checkpoint in {where}: "
                                           f"{fallback}")
    try:
        from core.learned2d.checkpoint import load_predictor
    except ImportError as exc:
        return PredictorLookup(None, ckpt, f"image networks at {ckpt} but no loader for them "
                                           f"({exc}): {fallback}")
    try:
        predictor = load_predictor(ckpt, expect_category=category)
    except Exception as exc:  # noqa: BLE001 (any failure falls back, and says why)
        return PredictorLookup(None, ckpt, f"the image networks at {ckpt} cannot be used "
                                           f"({exc}): {fallback}")
    if labels is not None and not set(predictor.labels) & set(labels):
        return PredictorLookup(None, ckpt, f"the image networks at {ckpt} predict other "
                                           f"semantic points than the shape space's: "
                                           f"{fallback}")
    return PredictorLookup(predictor, ckpt, f"image networks: {ckpt}")
