"""Category shape space: a template fitted to every annotated model, and PCA of the fits.

``V = T + B c`` with mean shape ``T`` (N, 3) and basis ``B`` (K, N, 3), the form the To The
Point solver (:mod:`core.pose.ttp`) consumes; semantic points live on the template as face +
barycentric weights. Modules: :mod:`~core.shape_space.template` (choose and remesh the
template, semantic points), :mod:`~core.shape_space.fit` (deform it onto a model with
pytorch3d losses), :mod:`~core.shape_space.metrics` (exact point-to-surface chamfer),
:mod:`~core.shape_space.pca` (mean and basis), :mod:`~core.shape_space.model` (the
:class:`ShapeSpace` and its files), :mod:`~core.shape_space.build` (the streamed build).
Headless: numpy, torch, pytorch3d, scipy, manifold3d; no Qt.
"""

from core.shape_space.build import (
    MIN_MODELS,
    BuildStarted,
    ModelFitStep,
    ModelFitted,
    ShapeSpaceDone,
    ShapeSpaceEvent,
    build_shape_space,
    run_build,
)
from core.shape_space.errors import ShapeSpaceError
from core.shape_space.fit import FitConfig, FitStep, FittedShape, fit_template, fitted_shape
from core.shape_space.model import ModelFit, ShapeSpace, load_shape_space, save_shape_space
from core.shape_space.pca import ShapePCA, pca_shapes, reconstruct
from core.shape_space.template import ShapeTemplate, build_template, remesh, semantic_targets

__all__ = [
    "MIN_MODELS",
    "BuildStarted",
    "FitConfig",
    "FitStep",
    "FittedShape",
    "ModelFit",
    "ModelFitStep",
    "ModelFitted",
    "ShapeSpace",
    "ShapeSpaceDone",
    "ShapeSpaceError",
    "ShapeSpaceEvent",
    "ShapePCA",
    "ShapeTemplate",
    "build_shape_space",
    "build_template",
    "fit_template",
    "fitted_shape",
    "load_shape_space",
    "pca_shapes",
    "reconstruct",
    "remesh",
    "run_build",
    "save_shape_space",
    "semantic_targets",
]
