"""Deterministic demo categories (airplane, mug, chair) generated from a seed.

Each category has watertight, single-component, normalized meshes built from
manifold3d primitives, ground-truth landmarks snapped to the surface and synthetic
annotators with their own numbering conventions, click noise and a few left/right
mistakes. See :mod:`core.demo.types` for the records and :mod:`core.demo.registry` for
how randomness is seeded. No torch, no Qt.

The generator (manifold3d, scipy) is imported on first use of one of its names, so
``import core.demo.types`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from core.demo.types import (
    DemoAnnotator,
    DemoCategory,
    DemoKeypoint,
    DemoModel,
    LandmarkSpec,
    SurfacePoint,
)

if TYPE_CHECKING:
    from core.demo.registry import (
        CATEGORIES,
        build_construction,
        generate_category,
        landmark_specs,
        shapenet_id,
    )

_LAZY = ("CATEGORIES", "build_construction", "generate_category", "landmark_specs", "shapenet_id")

__all__ = [
    "CATEGORIES",
    "DemoAnnotator",
    "DemoCategory",
    "DemoKeypoint",
    "DemoModel",
    "LandmarkSpec",
    "SurfacePoint",
    "build_construction",
    "generate_category",
    "landmark_specs",
    "shapenet_id",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("core.demo.registry"), name)
    raise AttributeError(f"module 'core.demo' has no attribute {name!r}")
