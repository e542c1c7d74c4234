"""The category shape space (mean shape, basis, semantic points, fit report) and its files.

A shape space saved as ``P`` is two files, like the embedding checkpoints
(:mod:`core.embedding.checkpoint`)::

    P.safetensors   arrays: mean, basis, singular_values, explained_variance,
                    explained_ratio, faces, point_faces, point_bary, coefficients
    P.json          {"format", "category", "template_model", "counts", "model_names",
                     "labels", "names", "fits", "config"}

Loading checks the format tag, that every array is there with the right dtype, shape and
finite values, that the faces and semantic points index inside the mesh, and that the
sidecar's counts and lists agree with the arrays; anything else raises
:class:`ShapeSpaceError` naming the file and the problem.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.shape_space.errors import ShapeSpaceError
from core.shape_space.pca import reconstruct

__all__ = ["FORMAT", "ModelFit", "ShapeSpace", "load_shape_space", "save_shape_space",
           "shape_space_paths"]

FORMAT = "corrstudio-shape-space/1"


@dataclass(frozen=True)
class ModelFit:
    """How well the template fitted one model (see :class:`core.shape_space.fit.FittedShape`).

    ``chamfer`` squared normalized units (point-to-surface, both directions summed); ``rms``,
    ``keypoint_error`` and ``reconstruction_rms`` normalized units (bounding-box diagonal 1).
    ``reconstruction_rms``: RMS vertex distance between the fitted shape and its
    reconstruction from the shape space's ``K`` coefficients (0 when ``K = M - 1``).
    """

    model: str
    chamfer: float
    rms: float
    keypoint_error: float
    n_keypoints: int
    iterations: int
    seconds: float
    reconstruction_rms: float = 0.0


@dataclass(frozen=True)
class ShapeSpace:
    """A category's deformable template ``V = T + B c`` with semantic points.

    Attributes:
        category: the category name.
        template_model: the model the template mesh was made from.
        mean: (N, 3) float64 mean shape ``T``, normalized units.
        basis: (K, N, 3) float64 ``B``, units per unit coefficient (modes scaled by their
            standard deviation over the training shapes).
        singular_values: (K,); explained_variance (K,) squared units; explained_ratio (K,).
        faces: (F, 3) int64 the template's faces (shared by every shape of the space).
        point_faces: (S,) int64 and point_bary (S, 3) float64: the semantic points as face +
            barycentric weights, valid on every shape of the space.
        labels: S labels (``"<annotator>:<number>"`` or landmark group names).
        names: S optional landmark names.
        model_names: M models the space was fitted to.
        coefficients: (M, K) float64 each model's coefficients.
        fits: M fit reports, in ``model_names`` order.
        config: how it was built (fit config, k, semantic mode...), for provenance.
    """

    category: str
    template_model: str
    mean: np.ndarray
    basis: np.ndarray
    singular_values: np.ndarray
    explained_variance: np.ndarray
    explained_ratio: np.ndarray
    faces: np.ndarray
    point_faces: np.ndarray
    point_bary: np.ndarray
    labels: tuple[str, ...]
    names: tuple[str | None, ...]
    model_names: tuple[str, ...]
    coefficients: np.ndarray
    fits: tuple[ModelFit, ...]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        """Number of modes ``K``."""
        return int(self.basis.shape[0])

    def shape(self, coefficients: np.ndarray | None = None) -> np.ndarray:
        """``T + B c`` (N, 3) for coefficients (K,) (default zero: the mean shape)."""
        if coefficients is None:
            return self.mean.copy()
        return reconstruct(self.mean, self.basis, coefficients)

    def reconstruct(self, model: str) -> np.ndarray:
        """A training model's shape (N, 3) from its coefficients."""
        if model not in self.model_names:
            raise ShapeSpaceError(f"{model!r} is not one of the shape space's models")
        return self.shape(self.coefficients[self.model_names.index(model)])

    def semantic_points(self, coefficients: np.ndarray | None = None) -> np.ndarray:
        """The semantic points (S, 3) on ``shape(coefficients)``."""
        V = self.shape(coefficients)
        return np.einsum("sc,scd->sd", self.point_bary, V[self.faces[self.point_faces]])

    def semantic_template(self) -> tuple[np.ndarray, np.ndarray]:
        """``T`` (S, 3) and ``B`` (K, S, 3) restricted to the semantic points: the inputs of
        :func:`core.pose.ttp.solve_ttp` when the 2D points are the semantic points (the
        face + barycentric map is linear, so it carries the basis exactly)."""
        corners = self.faces[self.point_faces]                       # (S, 3)
        T = np.einsum("sc,scd->sd", self.point_bary, self.mean[corners])
        B = np.einsum("sc,kscd->ksd", self.point_bary, self.basis[:, corners])
        return T, B


# ----------------------------------------------------------------------------- files

_ARRAYS = ("mean", "basis", "singular_values", "explained_variance", "explained_ratio",
           "faces", "point_faces", "point_bary", "coefficients")
_INTS = ("faces", "point_faces")


def shape_space_paths(path: str | Path) -> tuple[Path, Path]:
    """(arrays, sidecar) paths for ``path`` with or without a suffix."""
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def save_shape_space(space: ShapeSpace, path: str | Path) -> Path:
    """Write the shape space (atomically, file by file); returns the arrays' path."""
    from safetensors.numpy import save_file

    arrays_path, sidecar = shape_space_paths(path)
    arrays_path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.ascontiguousarray(getattr(space, name),
                                         dtype=np.int64 if name in _INTS else np.float64)
              for name in _ARRAYS}
    doc = {
        "format": FORMAT,
        "category": space.category,
        "template_model": space.template_model,
        "counts": {"n_vertices": int(space.mean.shape[0]), "n_faces": int(space.faces.shape[0]),
                   "k": space.k, "n_points": len(space.labels),
                   "n_models": len(space.model_names)},
        "model_names": list(space.model_names),
        "labels": list(space.labels),
        "names": list(space.names),
        "fits": [asdict(f) for f in space.fits],
        "config": space.config,
    }
    _atomic(arrays_path, lambda tmp: save_file(arrays, str(tmp)))
    _atomic(sidecar, lambda tmp: tmp.write_text(json.dumps(doc, indent=1, sort_keys=True)))
    return arrays_path


def load_shape_space(path: str | Path, expect_category: str | None = None) -> ShapeSpace:
    """Read and check a saved shape space (see the module docstring).

    Raises:
        ShapeSpaceError: a missing, corrupt or inconsistent file, or one made for a category
            other than ``expect_category``; the message names the file.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    arrays_path, sidecar = shape_space_paths(path)
    doc = _read_sidecar(sidecar)
    if expect_category is not None and doc["category"] != expect_category:
        raise ShapeSpaceError(f"{sidecar}: a shape space of category {doc['category']!r}, "
                              f"not {expect_category!r}")
    try:
        arrays = load_file(str(arrays_path))
    except FileNotFoundError as exc:
        raise ShapeSpaceError(f"shape space arrays not found: {arrays_path}") from exc
    except (SafetensorError, OSError, ValueError) as exc:
        raise ShapeSpaceError(f"{arrays_path}: corrupt shape space file ({exc})") from exc
    _check_arrays(arrays, doc, arrays_path)
    try:
        fits = tuple(ModelFit(**f) for f in doc["fits"])
    except TypeError as exc:
        raise ShapeSpaceError(f"{sidecar}: bad fit report ({exc})") from exc
    return ShapeSpace(
        category=doc["category"], template_model=doc["template_model"],
        mean=arrays["mean"], basis=arrays["basis"], singular_values=arrays["singular_values"],
        explained_variance=arrays["explained_variance"],
        explained_ratio=arrays["explained_ratio"], faces=arrays["faces"],
        point_faces=arrays["point_faces"], point_bary=arrays["point_bary"],
        labels=tuple(doc["labels"]), names=tuple(doc["names"]),
        model_names=tuple(doc["model_names"]), coefficients=arrays["coefficients"],
        fits=fits, config=dict(doc.get("config") or {}))


def _read_sidecar(sidecar: Path) -> dict[str, Any]:
    try:
        doc = json.loads(sidecar.read_text())
    except FileNotFoundError as exc:
        raise ShapeSpaceError(f"shape space sidecar not found: {sidecar}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShapeSpaceError(f"{sidecar}: not a readable shape space sidecar ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ShapeSpaceError(f"{sidecar}: not a CorrStudio shape space (format {got!r}, "
                              f"expected {FORMAT!r})")
    need = {"category": str, "template_model": str, "counts": dict, "model_names": list,
            "labels": list, "names": list, "fits": list}
    for key, kind in need.items():
        if not isinstance(doc.get(key), kind):
            raise ShapeSpaceError(f"{sidecar}: missing or malformed {key!r}")
    return doc


def _check_arrays(arrays: dict[str, np.ndarray], doc: dict[str, Any], where: Path) -> None:
    """Raises ShapeSpaceError naming ``where`` unless the arrays fit each other and ``doc``."""
    missing = [name for name in _ARRAYS if name not in arrays]
    if missing:
        raise ShapeSpaceError(f"{where}: missing arrays {missing}")
    for name in _ARRAYS:
        want = np.integer if name in _INTS else np.floating
        if not np.issubdtype(arrays[name].dtype, want):
            raise ShapeSpaceError(f"{where}: {name} has dtype {arrays[name].dtype}")
        if name not in _INTS and not np.isfinite(arrays[name]).all():
            raise ShapeSpaceError(f"{where}: {name} holds NaN or inf")
    counts = doc["counts"]
    n, f = counts.get("n_vertices"), counts.get("n_faces")
    k, s, m = counts.get("k"), counts.get("n_points"), counts.get("n_models")
    expected = {"mean": (n, 3), "basis": (k, n, 3), "singular_values": (k,),
                "explained_variance": (k,), "explained_ratio": (k,), "faces": (f, 3),
                "point_faces": (s,), "point_bary": (s, 3), "coefficients": (m, k)}
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != shape:
            raise ShapeSpaceError(f"{where}: {name} has shape {tuple(arrays[name].shape)}, "
                                  f"the sidecar says {shape}")
    if len(doc["labels"]) != s or len(doc["names"]) != s:
        raise ShapeSpaceError(f"{where}: {len(doc['labels'])} labels for {s} semantic points")
    if len(doc["model_names"]) != m or len(doc["fits"]) != m:
        raise ShapeSpaceError(f"{where}: {len(doc['model_names'])} model names and "
                              f"{len(doc['fits'])} fit reports for {m} models")
    faces, point_faces = arrays["faces"], arrays["point_faces"]
    if faces.size and (faces.min() < 0 or faces.max() >= n):
        raise ShapeSpaceError(f"{where}: faces index vertices outside 0..{n - 1}")
    if point_faces.size and (point_faces.min() < 0 or point_faces.max() >= f):
        raise ShapeSpaceError(f"{where}: semantic points on faces outside 0..{f - 1}")


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
