"""The demo categories and :func:`generate_category`.

Randomness: model ``i`` of category ``c`` (index in :data:`CATEGORIES`) draws from
``numpy.random.default_rng([seed, c, 0, i])`` and the annotators from
``default_rng([seed, c, 1])``; nothing uses global random state or ``hash()``, so the
same (name, seed, n_models) gives byte-identical arrays in the same environment.
Model 0 always has every optional part and model 1 none (when they exist), so each
category shows both cases; the other models draw.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from core.demo import airplane, chair, mug
from core.demo.annotators import make_annotators
from core.demo.construction import Construction, finish_model
from core.demo.types import DemoCategory, DemoModel, LandmarkSpec

__all__ = [
    "CATEGORIES",
    "build_construction",
    "generate_category",
    "landmark_specs",
    "shapenet_id",
]

CATEGORIES: tuple[str, ...] = ("airplane", "mug", "chair")

_MODULES: dict[str, ModuleType] = {"airplane": airplane, "mug": mug, "chair": chair}
N_ANNOTATORS = 8
N_MISTAKEN = 2


def _module(name: str) -> ModuleType:
    try:
        return _MODULES[name]
    except KeyError:
        raise ValueError(f"unknown demo category {name!r}; expected one of {CATEGORIES}") from None


def landmark_specs(name: str) -> tuple[LandmarkSpec, ...]:
    """The ground-truth landmarks of a category, in a fixed order."""
    return _module(name).SPECS


def shapenet_id(name: str) -> str:
    """The ShapeNet synset id of a category, e.g. ``"02691156"`` for airplane."""
    return _module(name).SHAPENET_ID


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def build_construction(name: str, seed: int, index: int) -> Construction:
    """The un-normalized construction of model ``index`` (for inspection and tests)."""
    builder: Callable[..., Construction] = _module(name).build
    rng = np.random.default_rng([_check_seed(seed), CATEGORIES.index(name), 0, index])
    optional = {0: True, 1: False}.get(index)
    return builder(rng, optional)


def generate_category(name: str, seed: int = 0, n_models: int = 24) -> DemoCategory:
    """Generate a demo category: models, ground-truth landmarks and synthetic annotators.

    Args:
        name: one of :data:`CATEGORIES`.
        seed: non-negative integer; different seeds give different shapes.
        n_models: number of models (>= 1).

    Returns:
        The category. Deterministic for a given (name, seed, n_models).

    Raises:
        ValueError: for an unknown name, a negative seed or n_models < 1.
    """
    module = _module(name)
    seed = _check_seed(seed)
    if n_models < 1:
        raise ValueError(f"n_models must be at least 1, got {n_models}")
    order = [s.name for s in module.SPECS]
    models: list[DemoModel] = []
    for index in range(n_models):
        construction = build_construction(name, seed, index)
        models.append(finish_model(construction, f"{name}_{index:03d}", order))
    rng = np.random.default_rng([seed, CATEGORIES.index(name), 1])
    annotators = make_annotators(
        rng, module.SPECS, tuple(models), n_annotators=N_ANNOTATORS, n_mistaken=N_MISTAKEN
    )
    return DemoCategory(
        name=name,
        shapenet_id=module.SHAPENET_ID,
        landmarks=module.SPECS,
        models=tuple(models),
        annotators=annotators,
    )
